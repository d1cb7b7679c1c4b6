//! How results cross the boundary.
//!
//! An entry point takes `(ptr: i32, len: i32)` of an input the host wrote into the
//! guest's memory and returns one `i64`: the output region `(ptr << 32) | len`. The
//! output's first byte is a status: [`STATUS_OK`] followed by the payload, or
//! [`STATUS_ERR`] followed by a UTF-8 message saying why the input was refused.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Status byte: the call succeeded; the payload follows.
pub const STATUS_OK: u8 = 0;
/// Status byte: the guest refused the input; a UTF-8 message follows.
pub const STATUS_ERR: u8 = 1;

/// Packs an output region into the `i64` an entry point returns.
pub const fn pack(ptr: u32, len: u32) -> u64 {
    ((ptr as u64) << 32) | len as u64
}

/// Splits an entry point's `i64` result into `(ptr, len)`.
pub const fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

/// A guest's refusal of its input, carried to the host as a [`STATUS_ERR`] output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestError(pub String);

impl GuestError {
    /// A refusal with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        GuestError(msg.into())
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for GuestError {}

/// Frames a handler's result as the bytes of an output region.
pub fn encode_output(result: Result<Vec<u8>, GuestError>) -> Vec<u8> {
    let (status, body) = match result {
        Ok(payload) => (STATUS_OK, payload),
        Err(GuestError(msg)) => (STATUS_ERR, msg.into_bytes()),
    };
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(status);
    out.extend_from_slice(&body);
    out
}

/// Reads the bytes of an output region back into a result. An empty region or an
/// unknown status byte is reported as `Err(None)`.
pub fn decode_output(bytes: &[u8]) -> Result<&[u8], Option<String>> {
    match bytes.split_first() {
        Some((&STATUS_OK, payload)) => Ok(payload),
        Some((&STATUS_ERR, msg)) => Err(Some(String::from_utf8_lossy(msg).into_owned())),
        _ => Err(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn pack_round_trips() {
        assert_eq!(
            unpack(pack(0xdead_beef, 0x1234_5678)),
            (0xdead_beef, 0x1234_5678)
        );
        assert_eq!(unpack(pack(u32::MAX, u32::MAX)), (u32::MAX, u32::MAX));
    }

    #[test]
    fn output_round_trips() {
        let ok = encode_output(Ok(vec![1, 2, 3]));
        assert_eq!(decode_output(&ok), Ok(&[1u8, 2, 3][..]));
        let err = encode_output(Err(GuestError::new("bad input")));
        assert_eq!(decode_output(&err), Err(Some("bad input".into())));
        assert_eq!(decode_output(&[]), Err(None));
        assert_eq!(decode_output(&[7]), Err(None));
    }
}
