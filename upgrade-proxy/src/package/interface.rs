//! A module's imports and exports, read with `wasmparser`, in the form the ABI checks.

use molt_abi::Kind;
use molt_abi::interface::{self, InterfaceError, OwnedItem, ValType};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, Validator, WasmFeatures};

/// The WebAssembly proposals ABI v1 allows (`ABI.md` §1): WebAssembly 2.0 plus tail
/// calls, extended constant expressions and wide arithmetic. Threads, relaxed SIMD,
/// memory64, GC and exceptions are refused as invalid.
pub const ABI_FEATURES: WasmFeatures = WasmFeatures::WASM2
    .union(WasmFeatures::TAIL_CALL)
    .union(WasmFeatures::EXTENDED_CONST)
    .union(WasmFeatures::WIDE_ARITHMETIC);

/// What a module imports and exports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// `(module, name, type)` for each import, in order.
    pub imports: Vec<(String, String, OwnedItem)>,
    /// `(name, type)` for each export, in order.
    pub exports: Vec<(String, OwnedItem)>,
}

impl Interface {
    /// Validates `bytes` as a WebAssembly module using only [`ABI_FEATURES`] and reads
    /// its interface.
    pub fn read(bytes: &[u8]) -> Result<Interface, wasmparser::BinaryReaderError> {
        let types = Validator::new_with_features(ABI_FEATURES).validate_all(bytes)?;
        let types = types.as_ref();
        let func = |type_id: wasmparser::types::CoreTypeId| {
            let f = types[type_id].unwrap_func();
            OwnedItem::Func(
                f.params().iter().map(val_type).collect(),
                f.results().iter().map(val_type).collect(),
            )
        };
        let mut out = Interface::default();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        let ty = match import.ty {
                            TypeRef::Func(i) | TypeRef::FuncExact(i) => {
                                func(types.core_type_at_in_module(i))
                            }
                            TypeRef::Memory(_) => OwnedItem::Memory,
                            _ => OwnedItem::Other,
                        };
                        out.imports
                            .push((import.module.into(), import.name.into(), ty));
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        let ty = match export.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => {
                                func(types.core_function_at(export.index))
                            }
                            ExternalKind::Memory => OwnedItem::Memory,
                            _ => OwnedItem::Other,
                        };
                        out.exports.push((export.name.into(), ty));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Checks the interface against the ABI for `kind`.
    pub fn check(&self, kind: Kind) -> Result<(), InterfaceError> {
        interface::check(
            kind,
            self.imports
                .iter()
                .map(|(m, n, t)| (m.as_str(), n.as_str(), t.as_item())),
            self.exports.iter().map(|(n, t)| (n.as_str(), t.as_item())),
        )
    }
}

fn val_type(t: &wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        _ => ValType::Other,
    }
}
