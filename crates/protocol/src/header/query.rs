//! QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) headers (remoting-protocol §4.9).

crate::command_header! {
    /// QUERY_MESSAGE request: messages of a topic by key in a time range.
    pub struct QueryMessageRequestHeader {
        pub topic: String = "topic",
        pub key: String = "key",
        pub max_num: i32 = "maxNum",
        pub begin_timestamp: i64 = "beginTimestamp",
        pub end_timestamp: i64 = "endTimestamp",
        /// `"true"`: `key` is a UNIQ_KEY (the broker then caps at its own
        /// defaultQueryMaxNum).
        pub unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

crate::command_header! {
    /// QUERY_MESSAGE response.
    pub struct QueryMessageResponseHeader {
        pub index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        pub index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

crate::command_header! {
    /// VIEW_MESSAGE_BY_ID request.
    pub struct ViewMessageRequestHeader {
        /// Commit-log offset (decoded from the offset message id).
        pub offset: i64 = "offset",
        pub topic: Option<String> = "topic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn query_message() {
        let h = QueryMessageRequestHeader {
            topic: "T".into(),
            key: "K1".into(),
            max_num: 32,
            begin_timestamp: 0,
            end_timestamp: 9_223_372_036_854_775_807,
            unique_key_query: Some(true),
        };
        assert_golden(
            &h,
            &[
                ("topic", "T"),
                ("key", "K1"),
                ("maxNum", "32"),
                ("beginTimestamp", "0"),
                ("endTimestamp", "9223372036854775807"),
                ("_UNIQUE_KEY_QUERY", "true"),
            ],
        );
        let plain = QueryMessageRequestHeader::read_fields(&fields(&[
            ("topic", "T"),
            ("key", "K"),
            ("maxNum", "64"),
            ("beginTimestamp", "1"),
            ("endTimestamp", "2"),
            ("_UNIQUE_KEY_QUERY", "false"),
            ("ns", ""),
        ]))
        .unwrap();
        assert_eq!(plain.unique_key_query, Some(false));
        assert_golden(
            &QueryMessageResponseHeader {
                index_last_update_timestamp: 5,
                index_last_update_phyoffset: 6,
            },
            &[
                ("indexLastUpdateTimestamp", "5"),
                ("indexLastUpdatePhyoffset", "6"),
            ],
        );
    }

    #[test]
    fn view_message() {
        assert_golden(
            &ViewMessageRequestHeader {
                offset: 4096,
                topic: None,
            },
            &[("offset", "4096")],
        );
        let h = ViewMessageRequestHeader::read_fields(&fields(&[("offset", "7"), ("topic", "T")]))
            .unwrap();
        assert_eq!(h.topic.as_deref(), Some("T"));
        assert!(ViewMessageRequestHeader::read_fields(&fields(&[("offset", "")])).is_err());
    }
}
