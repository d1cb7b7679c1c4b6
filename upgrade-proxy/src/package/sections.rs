//! The outer layer of a module binary: its sections, read with `wasmparser`'s
//! binary reader and written with `wasm-encoder`.

use std::ops::Range;

use wasm_encoder::{CustomSection, Section as _};
use wasmparser::BinaryReader;

/// One section of a module binary.
pub(crate) struct Section<'a> {
    /// Bytes of the whole section, header included.
    pub range: Range<usize>,
    /// For a custom section, its name and payload.
    pub custom: Option<(&'a str, &'a [u8])>,
}

/// Splits a module binary into its sections. The binary must already be validated.
pub(crate) fn split(bytes: &[u8]) -> Result<Vec<Section<'_>>, wasmparser::BinaryReaderError> {
    const PREAMBLE: usize = 8;
    let mut reader = BinaryReader::new(bytes.get(PREAMBLE..).unwrap_or_default(), PREAMBLE);
    let mut out = Vec::new();
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        let content = reader.read_bytes(size)?;
        let custom = if id == 0 {
            let mut inner = BinaryReader::new(content, 0);
            let name = inner.read_string()?;
            let payload = inner.read_bytes(inner.bytes_remaining())?;
            Some((name, payload))
        } else {
            None
        };
        out.push(Section {
            range: start..reader.original_position(),
            custom,
        });
    }
    Ok(out)
}

/// The module with every custom section whose name satisfies `drop` removed.
pub(crate) fn without(
    bytes: &[u8],
    sections: &[Section<'_>],
    drop: impl Fn(&str) -> bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut kept_to = 0;
    for s in sections {
        if s.custom.is_some_and(|(name, _)| drop(name)) {
            out.extend_from_slice(&bytes[kept_to..s.range.start]);
            kept_to = s.range.end;
        }
    }
    out.extend_from_slice(&bytes[kept_to..]);
    out
}

/// Appends a custom section to a module binary.
pub(crate) fn append_custom(module: &mut Vec<u8>, name: &str, data: &[u8]) {
    CustomSection {
        name: name.into(),
        data: data.into(),
    }
    .append_to(module);
}
