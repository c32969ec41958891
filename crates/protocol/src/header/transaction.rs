//! END_TRANSACTION (37) and CHECK_TRANSACTION_STATE (39) headers
//! (remoting-protocol §4.7, §4.8).

crate::command_header! {
    /// END_TRANSACTION request (oneway from Java and Go).
    pub struct EndTransactionRequestHeader {
        pub topic: Option<String> = "topic",
        /// Must equal the half message's PGROUP.
        pub producer_group: String = "producerGroup",
        /// Half-topic queue offset (the send response's queueOffset).
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Commit-log offset of the half message.
        pub commit_log_offset: i64 = "commitLogOffset",
        /// 0 unknown, 8 commit, 12 rollback.
        pub commit_or_rollback: i32 = "commitOrRollback",
        pub from_transaction_check: Option<bool> = "fromTransactionCheck",
        pub msg_id: String = "msgId",
        pub transaction_id: Option<String> = "transactionId",
    }
}

/// `commitOrRollback` values (the sysFlag transaction bits).
pub mod commit_or_rollback {
    /// The producer does not know yet; the broker ignores it.
    pub const UNKNOWN: i32 = 0;
    /// Commit the half message.
    pub const COMMIT: i32 = 0x8;
    /// Roll the half message back.
    pub const ROLLBACK: i32 = 0xC;
}

crate::command_header! {
    /// CHECK_TRANSACTION_STATE (broker → producer, oneway).
    pub struct CheckTransactionStateRequestHeader {
        /// The real topic of the half message.
        pub topic: Option<String> = "topic",
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        pub commit_log_offset: i64 = "commitLogOffset",
        /// The UNIQ_KEY.
        pub msg_id: Option<String> = "msgId",
        pub transaction_id: Option<String> = "transactionId",
        /// The offset message id of the half message.
        pub offset_msg_id: Option<String> = "offsetMsgId",
        pub broker_name: Option<String> = "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn end_transaction() {
        let h = EndTransactionRequestHeader {
            topic: Some("T".into()),
            producer_group: "PG".into(),
            tran_state_table_offset: 3,
            commit_log_offset: 4096,
            commit_or_rollback: commit_or_rollback::COMMIT,
            from_transaction_check: Some(false),
            msg_id: "0A00".into(),
            transaction_id: Some("UNIQ".into()),
        };
        assert_golden(
            &h,
            &[
                ("topic", "T"),
                ("producerGroup", "PG"),
                ("tranStateTableOffset", "3"),
                ("commitLogOffset", "4096"),
                ("commitOrRollback", "8"),
                ("fromTransactionCheck", "false"),
                ("msgId", "0A00"),
                ("transactionId", "UNIQ"),
            ],
        );
        let go = EndTransactionRequestHeader::read_fields(&fields(&[
            ("producerGroup", "PG"),
            ("tranStateTableOffset", "3"),
            ("commitLogOffset", "4096"),
            ("commitOrRollback", "12"),
            ("fromTransactionCheck", "true"),
            ("msgId", "X"),
            ("transactionId", ""),
        ]))
        .unwrap();
        assert_eq!(go.commit_or_rollback, commit_or_rollback::ROLLBACK);
        assert_eq!((go.topic, go.transaction_id.as_deref()), (None, Some("")));
        assert_eq!(
            EndTransactionRequestHeader::read_fields(&fields(&[("producerGroup", "PG")]))
                .unwrap_err(),
            ProtocolError::MissingField("tranStateTableOffset")
        );
    }

    #[test]
    fn check_transaction_state() {
        let h = CheckTransactionStateRequestHeader {
            topic: Some("T".into()),
            tran_state_table_offset: 3,
            commit_log_offset: 4096,
            msg_id: Some("UNIQ".into()),
            transaction_id: Some("UNIQ".into()),
            offset_msg_id: Some("0A00".into()),
            broker_name: Some("broker-a".into()),
        };
        assert_golden(
            &h,
            &[
                ("topic", "T"),
                ("tranStateTableOffset", "3"),
                ("commitLogOffset", "4096"),
                ("msgId", "UNIQ"),
                ("transactionId", "UNIQ"),
                ("offsetMsgId", "0A00"),
                ("bname", "broker-a"),
            ],
        );
    }
}
