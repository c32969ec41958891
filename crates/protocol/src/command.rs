//! The remoting command: one request or response, header and body.

use bytes::Bytes;

use crate::codes::{LanguageCode, RequestCode, ResponseCode};
use crate::ext::CommandHeader;
pub use crate::ext::ExtFields;
pub use crate::fields::CommandFields;
use crate::CURRENT_VERSION;

/// The most extFields entries a decoded header may carry. The widest
/// request header has a few dozen fields; a million tiny ones would cost far
/// more memory decoded than on the wire.
pub const MAX_EXT_FIELDS: usize = 1024;

/// Flag bit 0: this command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: this request is oneway (the receiver must not answer).
pub const FLAG_ONEWAY: i32 = 2;

/// How a command's header is serialized (the high byte of the header word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// A JSON object (type byte 0); what every client understands.
    #[default]
    Json,
    /// The compact binary header (type byte 1); never sent to ali-ons or C++.
    RocketMq,
}

impl SerializeType {
    /// The type byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }
}

/// One remoting command. `code` is a request code on requests and a response
/// code on responses (see [`RemotingCommand::is_response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    /// The custom header fields (a map to code that reads them by key; a
    /// decoded request's are read straight from its wire bytes by
    /// [`RemotingCommand::decode_header`]).
    pub ext_fields: CommandFields,
    pub body: Bytes,
    /// More body, written after `body` in this order without joining them
    /// (a pull answer hands the commit log's mapped slices over this way,
    /// and the connection writes them with vectored writes). Decoding never
    /// fills it: a received body is always one buffer, `body`.
    /// (A boxed slice rather than a `Vec`: it keeps the command small.)
    pub body_parts: Box<[Bytes]>,
    /// The serialization the header arrived in, or will be written in.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A new request with the given code and no fields.
    pub fn request(code: RequestCode) -> Self {
        Self::request_code(code.code())
    }

    /// A new request with a raw code number.
    pub fn request_code(code: i32) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::JAVA,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: CommandFields::new(),
            body: Bytes::new(),
            body_parts: Box::default(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A new request whose extFields are the given typed header.
    pub fn request_with_header<H: CommandHeader>(code: RequestCode, header: &H) -> Self {
        let mut cmd = Self::request(code);
        header.write_fields(&mut cmd.ext_fields);
        cmd
    }

    /// A response with a code and an optional remark. The opaque and the
    /// serialization are filled in by [`RemotingCommand::answering`].
    pub fn response(code: ResponseCode, remark: impl Into<Option<String>>) -> Self {
        RemotingCommand {
            code: code.code(),
            language: LanguageCode::JAVA,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: FLAG_RESPONSE,
            remark: remark.into(),
            ext_fields: CommandFields::new(),
            body: Bytes::new(),
            body_parts: Box::default(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A SUCCESS response with no remark.
    pub fn success() -> Self {
        Self::response(ResponseCode::SUCCESS, None)
    }

    /// An error response with a remark.
    pub fn error(code: ResponseCode, remark: impl Into<String>) -> Self {
        Self::response(code, Some(remark.into()))
    }

    /// Marks this response as the answer to `request`: same opaque, same
    /// serialization (the rule of remoting-protocol §2.3).
    pub fn answering(mut self, request: &RemotingCommand) -> Self {
        self.opaque = request.opaque;
        self.serialize_type = request.serialize_type;
        self.flag |= FLAG_RESPONSE;
        self
    }

    /// Sets the body (dropping any parts).
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self.body_parts = Box::default();
        self
    }

    /// Sets the body to `parts`, in order, without joining them.
    pub fn with_body_parts(mut self, parts: Vec<Bytes>) -> Self {
        self.body = Bytes::new();
        self.body_parts = parts.into_boxed_slice();
        self
    }

    /// Bytes of the whole body (`body` and every part).
    pub fn body_len(&self) -> usize {
        self.body.len() + self.body_parts.iter().map(Bytes::len).sum::<usize>()
    }

    /// The whole body as one buffer (joined, so copied, only when it has
    /// parts).
    pub fn joined_body(&self) -> Bytes {
        if self.body_parts.is_empty() {
            return self.body.clone();
        }
        let mut out = bytes::BytesMut::with_capacity(self.body_len());
        out.extend_from_slice(&self.body);
        for part in self.body_parts.iter() {
            out.extend_from_slice(part);
        }
        out.freeze()
    }

    /// Replaces the extFields with a typed header.
    pub fn with_header<H: CommandHeader>(mut self, header: &H) -> Self {
        header.write_fields(&mut self.ext_fields);
        self
    }

    /// Sets the remark.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Parses the extFields as a typed header.
    ///
    /// # Errors
    /// [`crate::ProtocolError::MissingField`] or [`crate::ProtocolError::BadField`]
    /// naming the field.
    pub fn decode_header<H: CommandHeader>(&self) -> Result<H, crate::ProtocolError> {
        H::read_pairs(&self.ext_fields)
    }

    /// Whether this command is a response (flag bit 0).
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether this request is oneway (flag bit 1).
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Marks this request oneway.
    pub fn set_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// The code as a request code.
    pub fn request_code_enum(&self) -> RequestCode {
        RequestCode::from_code(self.code)
    }

    /// The code as a response code.
    pub fn response_code_enum(&self) -> ResponseCode {
        ResponseCode::from_code(self.code)
    }

    /// One extFields value.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }
}
