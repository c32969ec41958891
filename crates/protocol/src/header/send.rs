//! SEND_MESSAGE headers (remoting-protocol §4.1). Code 10 (and the reply
//! code 324) carry long field names, codes 310, 320 and 325 the one-letter
//! V2 names; [`SendMessageRequestHeader`] is the one form handlers see.

use crate::codes::RequestCode;
use crate::command::{ExtFields, RemotingCommand};
use crate::error::ProtocolError;
use crate::ext::CommandHeader;
use crate::fields::FieldPairs;

crate::command_header! {
    /// SEND_MESSAGE request with V1 (long) names; also the canonical form.
    pub struct SendMessageRequestHeader {
        pub producer_group: String = "producerGroup",
        pub topic: String = "topic",
        /// Auto-create template topic, normally `TBW102`.
        pub default_topic: String = "defaultTopic",
        pub default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Target queue; negative lets the broker pick one.
        pub queue_id: i32 = "queueId",
        pub sys_flag: i32 = "sysFlag",
        pub born_timestamp: i64 = "bornTimestamp",
        pub flag: i32 = "flag",
        /// Encoded message properties (§7.3).
        pub properties: Option<String> = "properties",
        pub reconsume_times: Option<i32> = "reconsumeTimes",
        pub unit_mode: Option<bool> = "unitMode",
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// True when the body is a batch (§7.4), whatever the code.
        pub batch: Option<bool> = "batch",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request: the same fields under
    /// one-letter names.
    pub struct SendMessageRequestHeaderV2 {
        pub a: String = "a",
        pub b: String = "b",
        pub c: String = "c",
        pub d: i32 = "d",
        pub e: i32 = "e",
        pub f: i32 = "f",
        pub g: i64 = "g",
        pub h: i32 = "h",
        pub i: Option<String> = "i",
        pub j: Option<i32> = "j",
        pub k: Option<bool> = "k",
        pub l: Option<i32> = "l",
        pub m: Option<bool> = "m",
        pub n: Option<String> = "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        SendMessageRequestHeader {
            producer_group: v2.a,
            topic: v2.b,
            default_topic: v2.c,
            default_topic_queue_nums: v2.d,
            queue_id: v2.e,
            sys_flag: v2.f,
            born_timestamp: v2.g,
            flag: v2.h,
            properties: v2.i,
            reconsume_times: v2.j,
            unit_mode: v2.k,
            max_reconsume_times: v2.l,
            batch: v2.m,
            broker_name: v2.n,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(h: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            a: h.producer_group,
            b: h.topic,
            c: h.default_topic,
            d: h.default_topic_queue_nums,
            e: h.queue_id,
            f: h.sys_flag,
            g: h.born_timestamp,
            h: h.flag,
            i: h.properties,
            j: h.reconsume_times,
            k: h.unit_mode,
            l: h.max_reconsume_times,
            m: h.batch,
            n: h.broker_name,
        }
    }
}

impl SendMessageRequestHeader {
    /// Reads the long-name form (code 10, 324).
    ///
    /// # Errors
    /// As [`CommandHeader::read_fields`], naming the long field.
    pub fn from_v1<P: FieldPairs + ?Sized>(fields: &P) -> Result<Self, ProtocolError> {
        Self::read_pairs(fields)
    }

    /// Reads the one-letter form (codes 310, 320, 325).
    ///
    /// # Errors
    /// As [`CommandHeader::read_fields`], naming the letter.
    pub fn from_v2<P: FieldPairs + ?Sized>(fields: &P) -> Result<Self, ProtocolError> {
        SendMessageRequestHeaderV2::read_pairs(fields).map(Self::from)
    }

    /// Reads the form that `code` uses: V2 for SEND_MESSAGE_V2,
    /// SEND_BATCH_MESSAGE and SEND_REPLY_MESSAGE_V2, V1 otherwise.
    ///
    /// # Errors
    /// As [`SendMessageRequestHeader::from_v1`] / [`SendMessageRequestHeader::from_v2`].
    pub fn read_for_code<P: FieldPairs + ?Sized>(
        code: RequestCode,
        fields: &P,
    ) -> Result<Self, ProtocolError> {
        match code {
            RequestCode::SEND_MESSAGE_V2
            | RequestCode::SEND_BATCH_MESSAGE
            | RequestCode::SEND_REPLY_MESSAGE_V2 => Self::from_v2(fields),
            _ => Self::from_v1(fields),
        }
    }

    /// Reads the header of a send request by its code (a decoded request's
    /// straight from its wire bytes).
    ///
    /// # Errors
    /// As [`SendMessageRequestHeader::read_for_code`].
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        Self::read_for_code(cmd.request_code_enum(), &cmd.ext_fields)
    }

    /// Writes the one-letter form, as Java and C++ clients send it.
    pub fn write_v2(&self, fields: &mut ExtFields) {
        SendMessageRequestHeaderV2::from(self.clone()).write_fields(fields);
    }

    /// Whether the body is a batch (§7.4).
    pub fn is_batch(&self) -> bool {
        self.batch.unwrap_or(false)
    }
}

crate::command_header! {
    /// SEND_MESSAGE response header, plus the two extFields the broker adds.
    pub struct SendMessageResponseHeader {
        /// Offset message id; for a batch, one per message, comma-separated.
        pub msg_id: String = "msgId",
        pub queue_id: i32 = "queueId",
        /// Consume-queue offset (of the first message of a batch).
        pub queue_offset: i64 = "queueOffset",
        /// The message's UNIQ_KEY.
        pub transaction_id: Option<String> = "transactionId",
        /// 5.x inner-batch topics only.
        pub batch_uniq_id: Option<String> = "batchUniqId",
        /// 5.x timer messages only.
        pub recall_handle: Option<String> = "recallHandle",
        /// The broker's region, `DefaultRegion` by default.
        pub msg_region: Option<String> = "MSG_REGION",
        pub trace_on: Option<bool> = "TRACE_ON",
    }
}

crate::command_header! {
    /// RECALL_MESSAGE (370) request: cancel a timed message before it is
    /// delivered, by the handle its send answered.
    pub struct RecallMessageRequestHeader {
        pub producer_group: Option<String> = "producerGroup",
        pub topic: String = "topic",
        pub recall_handle: String = "recallHandle",
        pub broker_name: Option<String> = "brokerName",
    }
}

crate::command_header! {
    /// RECALL_MESSAGE response: the recalled message's id.
    pub struct RecallMessageResponseHeader {
        pub msg_id: String = "msgId",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 1,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            flag: 0,
            properties: Some("UNIQ_KEY\u{1}ABC\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(false),
            broker_name: None,
        }
    }

    #[test]
    fn golden_v1_and_v2() {
        let mut v1 = ExtFields::new();
        sample().write_fields(&mut v1);
        assert_eq!(
            v1,
            fields(&[
                ("producerGroup", "PG"),
                ("topic", "T"),
                ("defaultTopic", "TBW102"),
                ("defaultTopicQueueNums", "4"),
                ("queueId", "1"),
                ("sysFlag", "0"),
                ("bornTimestamp", "1700000000000"),
                ("flag", "0"),
                ("properties", "UNIQ_KEY\u{1}ABC\u{2}"),
                ("reconsumeTimes", "0"),
                ("unitMode", "false"),
                ("batch", "false"),
            ])
        );
        let mut v2 = ExtFields::new();
        sample().write_v2(&mut v2);
        assert_eq!(
            v2,
            fields(&[
                ("a", "PG"),
                ("b", "T"),
                ("c", "TBW102"),
                ("d", "4"),
                ("e", "1"),
                ("f", "0"),
                ("g", "1700000000000"),
                ("h", "0"),
                ("i", "UNIQ_KEY\u{1}ABC\u{2}"),
                ("j", "0"),
                ("k", "false"),
                ("m", "false"),
            ])
        );
    }

    #[test]
    fn picks_the_form_by_code() {
        let mut v2 = ExtFields::new();
        sample().write_v2(&mut v2);
        for code in [
            RequestCode::SEND_MESSAGE_V2,
            RequestCode::SEND_BATCH_MESSAGE,
            RequestCode::SEND_REPLY_MESSAGE_V2,
        ] {
            assert_eq!(
                SendMessageRequestHeader::read_for_code(code, &v2).unwrap(),
                sample()
            );
        }
        assert_eq!(
            SendMessageRequestHeader::read_for_code(RequestCode::SEND_MESSAGE, &v2).unwrap_err(),
            ProtocolError::MissingField("producerGroup")
        );
        let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE);
        sample().write_fields(&mut cmd.ext_fields);
        assert_eq!(
            SendMessageRequestHeader::from_command(&cmd).unwrap(),
            sample()
        );
    }

    #[test]
    fn reads_client_quirks() {
        // C++: batch as 310 with m=true, empty strings for unset numbers,
        // extra keys (OnsChannel, ACL); Go V1 sends bname.
        let h = SendMessageRequestHeader::from_v2(&fields(&[
            ("a", "PG"),
            ("b", "T"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "-1"),
            ("f", "0"),
            ("g", "5"),
            ("h", "0"),
            ("j", ""),
            ("l", ""),
            ("m", "true"),
            ("OnsChannel", "ALIYUN"),
            ("AccessKey", "ak"),
        ]))
        .unwrap();
        assert!(h.is_batch());
        assert_eq!(
            (h.queue_id, h.reconsume_times, h.max_reconsume_times),
            (-1, None, None)
        );
        let go = SendMessageRequestHeader::from_v1(&fields(&[
            ("producerGroup", "PG"),
            ("topic", "T"),
            ("defaultTopic", "TBW102"),
            ("defaultTopicQueueNums", "4"),
            ("queueId", "2"),
            ("sysFlag", "4"),
            ("bornTimestamp", "9"),
            ("flag", "0"),
            ("bname", "broker-a"),
            ("unitMode", "False"),
        ]))
        .unwrap();
        assert_eq!(go.broker_name.as_deref(), Some("broker-a"));
        assert_eq!(go.unit_mode, Some(false));
        assert!(!go.is_batch());
        let err = SendMessageRequestHeader::from_v2(&fields(&[("a", "PG")])).unwrap_err();
        assert_eq!(err, ProtocolError::MissingField("b"));
        let mut bad = ExtFields::new();
        sample().write_v2(&mut bad);
        bad.insert("g".into(), "soon".into());
        assert!(matches!(
            SendMessageRequestHeader::from_v2(&bad),
            Err(ProtocolError::BadField { field: "g", .. })
        ));
    }

    #[test]
    fn response_header_golden_and_read() {
        let h = SendMessageResponseHeader {
            msg_id: "0A00000100002A9F0000000000000000".into(),
            queue_id: 1,
            queue_offset: 7,
            transaction_id: Some("ABC".into()),
            msg_region: Some("DefaultRegion".into()),
            trace_on: Some(true),
            ..Default::default()
        };
        let mut f = ExtFields::new();
        h.write_fields(&mut f);
        assert_eq!(
            f,
            fields(&[
                ("msgId", "0A00000100002A9F0000000000000000"),
                ("queueId", "1"),
                ("queueOffset", "7"),
                ("transactionId", "ABC"),
                ("MSG_REGION", "DefaultRegion"),
                ("TRACE_ON", "true"),
            ])
        );
        assert_eq!(SendMessageResponseHeader::read_fields(&f).unwrap(), h);
        let mut extra = f.clone();
        extra.insert("batchUniqId".into(), "".into());
        extra.insert("zzz".into(), "1".into());
        assert_eq!(
            SendMessageResponseHeader::read_fields(&extra)
                .unwrap()
                .batch_uniq_id
                .as_deref(),
            Some("")
        );
    }

    fn any_header() -> impl Strategy<Value = SendMessageRequestHeader> {
        (
            (
                "\\PC{0,12}",
                "[A-Za-z0-9%_\\-]{1,16}",
                "[A-Z0-9]{0,8}",
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
            ),
            (
                any::<i32>(),
                proptest::option::of("\\PC{0,20}"),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<bool>()),
                proptest::option::of("[a-z\\-]{0,10}"),
            ),
        )
            .prop_map(
                |((pg, t, dt, dq, q, sf, born), (flag, props, rt, um, mrt, batch, bn))| {
                    SendMessageRequestHeader {
                        producer_group: pg,
                        topic: t,
                        default_topic: dt,
                        default_topic_queue_nums: dq,
                        queue_id: q,
                        sys_flag: sf,
                        born_timestamp: born,
                        flag,
                        properties: props,
                        reconsume_times: rt,
                        unit_mode: um,
                        max_reconsume_times: mrt,
                        batch,
                        broker_name: bn,
                    }
                },
            )
    }

    /// A send request's header read straight from the decoded frame's
    /// bytes against the map the general JSON decoder (serde) builds.
    fn wire_and_map_agree(
        code: RequestCode,
        fields: &ExtFields,
        serialize_type: crate::command::SerializeType,
    ) -> Result<(), TestCaseError> {
        let mut cmd = RemotingCommand::request(code);
        cmd.ext_fields = fields.clone().into();
        cmd.serialize_type = serialize_type;
        let mut buf = bytes::BytesMut::new();
        crate::frame::encode(&cmd, &mut buf);
        let decoded = crate::frame::decode_frame(buf.freeze()).unwrap();
        prop_assert!(decoded.ext_fields.is_raw());
        let from_wire = SendMessageRequestHeader::from_command(&decoded);
        prop_assert!(
            decoded.ext_fields.is_raw(),
            "reading the header built the map"
        );
        let map: ExtFields = match serialize_type {
            crate::command::SerializeType::Json => {
                let mut head = bytes::BytesMut::new();
                crate::header_json::encode(&cmd, &mut head);
                crate::header_json::decode_general(&head)
                    .unwrap()
                    .ext_fields
                    .into_map()
            }
            // Binary drops empty values (Java reads them as null).
            crate::command::SerializeType::RocketMq => fields
                .iter()
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        prop_assert_eq!(
            &from_wire,
            &SendMessageRequestHeader::read_for_code(code, &map)
        );
        prop_assert_eq!(decoded.ext_fields.map(), &map);
        Ok(())
    }

    fn any_send_fields() -> impl Strategy<Value = ExtFields> {
        proptest::collection::btree_map(
            prop_oneof![
                "[a-n]",
                Just("topic".to_string()),
                Just("queueId".to_string()),
                Just("AccessKey".to_string()),
                Just("Signature".to_string()),
                "\\PC{0,6}",
            ],
            prop_oneof![
                "-?[0-9]{0,12}",
                Just("true".to_string()),
                Just(" 7 ".to_string()),
                "\\PC{0,12}",
                "[\\x01\\x02\"\\\\a-z]{0,8}",
            ],
            0..20,
        )
    }

    proptest! {
        #[test]
        fn headers_read_from_the_wire_match_the_map(
            fields in any_send_fields(),
            complete in any_header(),
            use_complete in any::<bool>(),
            code in prop_oneof![
                Just(RequestCode::SEND_MESSAGE),
                Just(RequestCode::SEND_MESSAGE_V2),
                Just(RequestCode::SEND_BATCH_MESSAGE),
            ],
            binary in any::<bool>(),
        ) {
            let mut fields = fields;
            if use_complete {
                // A valid header, with the generated fields over it.
                let mut base = ExtFields::new();
                if code == RequestCode::SEND_MESSAGE {
                    complete.write_fields(&mut base);
                } else {
                    complete.write_v2(&mut base);
                }
                base.extend(fields);
                fields = base;
            }
            let st = if binary {
                crate::command::SerializeType::RocketMq
            } else {
                crate::command::SerializeType::Json
            };
            wire_and_map_agree(code, &fields, st)?;
        }
    }

    proptest! {
        #[test]
        fn v1_and_v2_round_trip(h in any_header()) {
            let mut v1 = ExtFields::new();
            h.write_fields(&mut v1);
            prop_assert_eq!(SendMessageRequestHeader::from_v1(&v1).unwrap(), h.clone());
            let mut v2 = ExtFields::new();
            h.write_v2(&mut v2);
            prop_assert_eq!(v1.len(), v2.len());
            prop_assert_eq!(SendMessageRequestHeader::from_v2(&v2).unwrap(), h.clone());
            let back = SendMessageRequestHeaderV2::from(h.clone());
            prop_assert_eq!(SendMessageRequestHeader::from(back), h);
        }
    }
}
