//! Flag words: the message sysflag stored in every record, the pull request
//! sysflag, the topic sysflag and permission bits.

/// Message sysflag bits (stored in the record's SYSFLAG field).
pub mod message {
    /// Body compressed by the producer.
    pub const COMPRESSED: i32 = 0x1;
    /// Set by the broker when the topic filter type is MULTI_TAG.
    pub const MULTI_TAGS: i32 = 0x2;
    /// Not a transactional message.
    pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
    /// Half (prepared) transactional message.
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
    /// Committed transactional message.
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
    /// Rolled-back transactional message.
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
    /// Mask of the two transaction bits.
    pub const TRANSACTION_MASK: i32 = 0xC;
    /// BORNHOST is 16 bytes of IPv6.
    pub const BORNHOST_V6: i32 = 0x10;
    /// STOREHOST is 16 bytes of IPv6.
    pub const STOREHOST_V6: i32 = 0x20;
    /// 5.x inner batch needs unwrapping.
    pub const NEED_UNWRAP: i32 = 0x40;
    /// 5.x inner batch.
    pub const INNER_BATCH: i32 = 0x80;
    /// Compression type LZ4 (with COMPRESSED).
    pub const COMPRESSION_LZ4: i32 = 0x100;
    /// Compression type ZSTD (with COMPRESSED).
    pub const COMPRESSION_ZSTD: i32 = 0x200;
    /// Compression type ZLIB (with COMPRESSED); 0 also means ZLIB.
    pub const COMPRESSION_ZLIB: i32 = 0x300;
    /// Mask of the compression type bits.
    pub const COMPRESSION_MASK: i32 = 0x700;
}

/// Pull request sysflag bits (PULL_MESSAGE header `sysFlag`).
pub mod pull {
    /// Commit the offset carried in the request.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling allowed.
    pub const SUSPEND: i32 = 0x2;
    /// The request carries a subscription expression.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Class filter mode.
    pub const CLASS_FILTER: i32 = 0x8;
    /// Lite pull consumer.
    pub const LITE_PULL: i32 = 0x10;
}

/// Topic sysflag bits.
pub mod topic {
    /// Unit topic.
    pub const UNIT: i32 = 0x1;
    /// Unit subscription.
    pub const UNIT_SUB: i32 = 0x2;
}

/// Permission bits of topics and brokers.
pub mod perm {
    /// Inherit (template topics).
    pub const INHERIT: i32 = 0x1;
    /// Writable.
    pub const WRITE: i32 = 0x2;
    /// Readable.
    pub const READ: i32 = 0x4;
    /// Priority.
    pub const PRIORITY: i32 = 0x8;
    /// Normal topics: read + write.
    pub const READ_WRITE: i32 = READ | WRITE;

    /// Whether `perm` allows reads.
    pub fn is_readable(perm: i32) -> bool {
        perm & READ != 0
    }
    /// Whether `perm` allows writes.
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE != 0
    }
    /// Whether `perm` is inherited by auto-created topics.
    pub fn is_inherited(perm: i32) -> bool {
        perm & INHERIT != 0
    }
}

/// The transaction state encoded in bits 2–3 of a message sysflag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionType {
    /// Not transactional (or an ordinary message).
    NotType,
    /// Half message awaiting commit or rollback.
    Prepared,
    /// Committed.
    Commit,
    /// Rolled back.
    Rollback,
}

impl TransactionType {
    /// The sysflag bits of this type.
    pub fn bits(self) -> i32 {
        match self {
            Self::NotType => message::TRANSACTION_NOT_TYPE,
            Self::Prepared => message::TRANSACTION_PREPARED_TYPE,
            Self::Commit => message::TRANSACTION_COMMIT_TYPE,
            Self::Rollback => message::TRANSACTION_ROLLBACK_TYPE,
        }
    }
}

/// The transaction type of a message sysflag.
pub fn transaction_type(sysflag: i32) -> TransactionType {
    match sysflag & message::TRANSACTION_MASK {
        message::TRANSACTION_PREPARED_TYPE => TransactionType::Prepared,
        message::TRANSACTION_COMMIT_TYPE => TransactionType::Commit,
        message::TRANSACTION_ROLLBACK_TYPE => TransactionType::Rollback,
        _ => TransactionType::NotType,
    }
}

/// `sysflag` with its transaction bits replaced by `tx`.
pub fn with_transaction_type(sysflag: i32, tx: TransactionType) -> i32 {
    (sysflag & !message::TRANSACTION_MASK) | tx.bits()
}

/// Whether the body is compressed.
pub fn is_compressed(sysflag: i32) -> bool {
    sysflag & message::COMPRESSED != 0
}

/// Whether BORNHOST is stored as IPv6 (16 bytes).
pub fn is_bornhost_v6(sysflag: i32) -> bool {
    sysflag & message::BORNHOST_V6 != 0
}

/// Whether STOREHOST is stored as IPv6 (16 bytes).
pub fn is_storehost_v6(sysflag: i32) -> bool {
    sysflag & message::STOREHOST_V6 != 0
}

/// Whether the record is a 5.x inner batch.
pub fn is_inner_batch(sysflag: i32) -> bool {
    sysflag & message::INNER_BATCH != 0
}

/// Whether a record with this sysflag is dispatched to a consume queue and
/// indexed: half and rollback records are not.
pub fn is_dispatched(sysflag: i32) -> bool {
    matches!(
        transaction_type(sysflag),
        TransactionType::NotType | TransactionType::Commit
    )
}

/// Bytes of a host field (ip + port) for the given v6 bit.
pub fn host_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_bits() {
        assert_eq!(transaction_type(0), TransactionType::NotType);
        assert_eq!(transaction_type(0x4 | 0x1), TransactionType::Prepared);
        assert_eq!(transaction_type(0x8), TransactionType::Commit);
        assert_eq!(transaction_type(0xC | 0x30), TransactionType::Rollback);
        assert_eq!(
            with_transaction_type(0x4 | 0x1, TransactionType::Commit),
            0x9
        );
        assert!(is_dispatched(0x8));
        assert!(!is_dispatched(0x4));
        assert!(!is_dispatched(0xC));
    }

    #[test]
    fn host_bits() {
        assert!(is_bornhost_v6(0x10));
        assert!(!is_storehost_v6(0x10));
        assert!(is_storehost_v6(0x20));
        assert!(is_compressed(0x101));
        assert_eq!(host_len(false), 8);
        assert_eq!(host_len(true), 20);
        assert!(perm::is_readable(6) && perm::is_writeable(6) && !perm::is_inherited(6));
        assert!(perm::is_inherited(7));
    }
}
