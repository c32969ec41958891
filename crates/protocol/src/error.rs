//! The one error type of the protocol crate.

use thiserror::Error;

/// Everything that can be wrong with bytes handed to a decoder, or with a
/// header that lacks or mistypes a field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The frame's length word is smaller than the minimum frame.
    #[error("frame length {0} is too small (at least 4 bytes of header word)")]
    FrameTooShort(u32),
    /// The frame's length word exceeds the configured maximum.
    #[error("frame length {len} exceeds the maximum of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    /// The header length does not fit inside the frame.
    #[error("header length {header} does not fit in a frame of {frame} bytes")]
    HeaderLengthOutOfRange { header: usize, frame: usize },
    /// The serialize-type byte is neither JSON (0) nor ROCKETMQ (1).
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    /// The JSON header did not parse.
    #[error("malformed JSON header: {0}")]
    BadJsonHeader(String),
    /// The binary header ended early or had an inconsistent length.
    #[error("malformed ROCKETMQ header: {0}")]
    BadBinaryHeader(&'static str),
    /// A header string was not UTF-8.
    #[error("header field {0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// A required extFields entry is missing.
    #[error("the request header lacks the required field `{0}`")]
    MissingField(&'static str),
    /// An extFields entry could not be converted to the field's type.
    #[error("the request header field `{field}` has a bad value `{value}`: expected {expected}")]
    BadField {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A body did not parse.
    #[error("malformed body: {0}")]
    BadBody(String),
    /// A stored or sent message record is malformed.
    #[error("malformed message: {0}")]
    BadMessage(String),
    /// A message record, batch item or id ended before the field named.
    #[error("truncated {what}: field `{field}` needs {need} bytes, {have} available")]
    Truncated {
        what: &'static str,
        field: &'static str,
        need: usize,
        have: usize,
    },
    /// The record's magic code is neither v1, v2 nor the end-of-file blank
    /// (zeroed, never-written space decodes as this).
    #[error("bad message magic code {0:#010x}")]
    BadMagic(u32),
    /// The stored body CRC does not match the body bytes.
    #[error("body CRC mismatch: stored {stored}, computed {computed}")]
    BodyCrcMismatch { stored: u32, computed: u32 },
    /// A header carries more extFields entries than any request needs.
    #[error("the header has more than {max} extFields entries")]
    TooManyExtFields { max: usize },
    /// Java properties text (a config file or a config body) with a line
    /// that is not `key=value`.
    #[error("properties line {line}: {reason}")]
    BadProperties { line: usize, reason: String },
    /// A field is longer than the wire format allows.
    #[error("{field} is {len} bytes, the limit is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}
