//! What each kind of module must export and may import.
//!
//! The host checks a module against these tables when it verifies a package and again
//! when it loads one, so a module that would fail at call time is refused up front,
//! with the name of the offending export or import.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::{IMPORT_MODULE, Kind};

/// A WebAssembly value type, as far as the ABI is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    /// `i32`: pointers, lengths, small integers.
    I32,
    /// `i64`: packed results.
    I64,
    /// Any other type; never valid in an ABI signature.
    Other,
}

/// The signature of a function export or import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncSig<'a> {
    /// Parameter types in order.
    pub params: &'a [ValType],
    /// Result types in order.
    pub results: &'a [ValType],
}

impl fmt::Display for FuncSig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, tys: &[ValType]| {
            f.write_str("(")?;
            for (i, t) in tys.iter().enumerate() {
                let name = match t {
                    ValType::I32 => "i32",
                    ValType::I64 => "i64",
                    ValType::Other => "?",
                };
                write!(f, "{}{name}", if i > 0 { ", " } else { "" })?;
            }
            f.write_str(")")
        };
        list(f, self.params)?;
        f.write_str(" -> ")?;
        list(f, self.results)
    }
}

/// What an export or import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemType<'a> {
    /// A function with this signature.
    Func(FuncSig<'a>),
    /// A linear memory.
    Memory,
    /// A table, global or tag.
    Other,
}

/// An import's or export's type, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedItem {
    /// A function: parameter and result types.
    Func(Vec<ValType>, Vec<ValType>),
    /// A linear memory.
    Memory,
    /// A table, global or tag.
    Other,
}

impl OwnedItem {
    /// The borrowed form the ABI check takes.
    pub fn as_item(&self) -> ItemType<'_> {
        match self {
            OwnedItem::Func(params, results) => ItemType::Func(FuncSig { params, results }),
            OwnedItem::Memory => ItemType::Memory,
            OwnedItem::Other => ItemType::Other,
        }
    }
}

impl fmt::Display for OwnedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_item() {
            ItemType::Func(sig) => write!(f, "func {sig}"),
            ItemType::Memory => f.write_str("memory"),
            ItemType::Other => f.write_str("other"),
        }
    }
}

use ValType::{I32, I64};

const ENTRY: FuncSig<'static> = FuncSig {
    params: &[I32, I32],
    results: &[I64],
};

/// Exports every module has, whatever its kind.
pub const COMMON_EXPORTS: &[(&str, ItemType<'static>)] = &[
    ("memory", ItemType::Memory),
    (
        "molt_abi_version",
        ItemType::Func(FuncSig {
            params: &[],
            results: &[I32],
        }),
    ),
    (
        "molt_alloc",
        ItemType::Func(FuncSig {
            params: &[I32],
            results: &[I32],
        }),
    ),
    (
        "molt_free",
        ItemType::Func(FuncSig {
            params: &[I32, I32],
            results: &[],
        }),
    ),
];

/// The optional migration hook; checked for its signature when present.
pub const MIGRATE_EXPORT: &str = "molt_migrate";

/// The entry points a kind must export, each `(ptr: i32, len: i32) -> i64`.
pub const fn entry_points(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Consensus => &["molt_consensus_propose", "molt_consensus_validate"],
        Kind::Execution => &["molt_execute_block", "molt_execute_call"],
        Kind::Rpc => &["molt_rpc_handle"],
    }
}

/// Entry points a kind may export, `(ptr: i32, len: i32) -> i64` when present; the
/// host falls back to a documented default without them.
pub const fn optional_entry_points(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Consensus => &["molt_consensus_validators"],
        Kind::Execution => &["molt_execute_trace"],
        Kind::Rpc => &[],
    }
}

/// Host functions in module `molt` that every kind may import.
pub const HOST_IMPORTS: &[(&str, FuncSig<'static>)] = &[
    (
        "log",
        FuncSig {
            params: &[I32, I32, I32],
            results: &[],
        },
    ),
    (
        "keccak256",
        FuncSig {
            params: &[I32, I32, I32],
            results: &[],
        },
    ),
    (
        "secp256k1_recover",
        FuncSig {
            params: &[I32, I32, I32, I32],
            results: &[I32],
        },
    ),
    (
        "ed25519_verify",
        FuncSig {
            params: &[I32, I32, I32, I32],
            results: &[I32],
        },
    ),
];

/// Host functions in module `molt` that only `execution` modules may import.
pub const EXECUTION_IMPORTS: &[(&str, FuncSig<'static>)] = &[
    (
        "state_account",
        FuncSig {
            params: &[I32, I32],
            results: &[I32],
        },
    ),
    (
        "state_storage",
        FuncSig {
            params: &[I32, I32, I32],
            results: &[],
        },
    ),
    (
        "state_code",
        FuncSig {
            params: &[I32, I32, I32],
            results: &[I32],
        },
    ),
    (
        "block_hash",
        FuncSig {
            params: &[I64, I32],
            results: &[I32],
        },
    ),
    (
        "precompile",
        FuncSig {
            params: &[I32, I32, I32, I32, I32, I64],
            results: &[I32],
        },
    ),
    (
        "precompile_read",
        FuncSig {
            params: &[I32],
            results: &[],
        },
    ),
];

/// Host functions in module `molt` that only `rpc` modules may import: the chain
/// queries of [`crate::rpc`].
pub const RPC_IMPORTS: &[(&str, FuncSig<'static>)] = &[
    (
        "chain",
        FuncSig {
            params: &[I32, I32],
            results: &[I32],
        },
    ),
    (
        "chain_read",
        FuncSig {
            params: &[I32],
            results: &[],
        },
    ),
];

/// `alloy-primitives`' `native-keccak` feature imports Keccak-256 under this module
/// and name; the host provides it as an alias of `molt.keccak256`, to every kind.
pub const KECCAK_ALIAS: (&str, &str) = ("vm_hooks", "native_keccak256");

/// The WASI preview 1 import module.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// WASI functions a deterministic module may import: none of them can observe time,
/// randomness, the environment or the filesystem (the host gives such a module empty
/// arguments and environment, no preopened directory, and clocks frozen at the Unix
/// epoch — Rust's `std` reads the clock to seed hash maps, and gets the same seed on
/// every node).
pub const DETERMINISTIC_WASI: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "environ_get",
    "environ_sizes_get",
    "fd_close",
    "fd_fdstat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_read",
    "fd_seek",
    "fd_write",
    "proc_exit",
];

/// Whether a module of `kind` may import `module.name`, and with which signature
/// (`None`: any signature the host's implementation accepts).
pub fn allowed_import(kind: Kind, module: &str, name: &str) -> Option<Option<FuncSig<'static>>> {
    if module == IMPORT_MODULE {
        let kind_imports: &[_] = match kind {
            Kind::Execution => EXECUTION_IMPORTS,
            Kind::Rpc => RPC_IMPORTS,
            Kind::Consensus => &[],
        };
        return HOST_IMPORTS
            .iter()
            .chain(kind_imports)
            .find(|(n, _)| *n == name)
            .map(|(_, sig)| Some(*sig));
    }
    if (module, name) == KECCAK_ALIAS {
        return Some(Some(HOST_IMPORTS[1].1));
    }
    if module == WASI_MODULE && (!kind.is_deterministic() || DETERMINISTIC_WASI.contains(&name)) {
        return Some(None);
    }
    None
}

/// Why a module does not fit the ABI for its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterfaceError {
    /// A required export is absent.
    MissingExport(&'static str),
    /// An ABI export has the wrong type or signature.
    ExportType {
        /// The export's name.
        name: String,
        /// What the ABI requires, as text.
        expected: String,
    },
    /// An import this kind may not use.
    ImportNotAllowed {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// The module's kind.
        kind: Kind,
    },
    /// An allowed import declared with the wrong signature.
    ImportType {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// The signature the host provides, as text.
        expected: String,
    },
}

impl fmt::Display for InterfaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterfaceError::MissingExport(n) => write!(f, "missing required export `{n}`"),
            InterfaceError::ExportType { name, expected } => {
                write!(f, "export `{name}` must be {expected}")
            }
            InterfaceError::ImportNotAllowed { module, name, kind } => {
                write!(
                    f,
                    "import `{module}.{name}` is not allowed for {kind} modules"
                )
            }
            InterfaceError::ImportType {
                module,
                name,
                expected,
            } => write!(f, "import `{module}.{name}` must be {expected}"),
        }
    }
}

impl core::error::Error for InterfaceError {}

/// Checks a module's imports and exports against the ABI for `kind`.
///
/// `imports` yields `(module, name, type)`, `exports` yields `(name, type)`, both as
/// declared by the module. Extra exports are allowed.
pub fn check<'a>(
    kind: Kind,
    imports: impl IntoIterator<Item = (&'a str, &'a str, ItemType<'a>)>,
    exports: impl IntoIterator<Item = (&'a str, ItemType<'a>)> + Clone,
) -> Result<(), InterfaceError> {
    for (module, name, ty) in imports {
        let not_allowed = || InterfaceError::ImportNotAllowed {
            module: module.to_string(),
            name: name.to_string(),
            kind,
        };
        let allowed = allowed_import(kind, module, name).ok_or_else(not_allowed)?;
        match (allowed, ty) {
            (Some(sig), ItemType::Func(found)) if sig != found => {
                return Err(InterfaceError::ImportType {
                    module: module.to_string(),
                    name: name.to_string(),
                    expected: sig.to_string(),
                });
            }
            (_, ItemType::Func(_)) => {}
            _ => return Err(not_allowed()),
        }
    }
    let find = |wanted: &str| {
        exports
            .clone()
            .into_iter()
            .find(|(n, _)| *n == wanted)
            .map(|(_, t)| t)
    };
    let entries = entry_points(kind)
        .iter()
        .map(|n| (*n, ItemType::Func(ENTRY)));
    for (name, expected) in COMMON_EXPORTS.iter().copied().chain(entries) {
        match find(name) {
            None => return Err(InterfaceError::MissingExport(name)),
            Some(found) if found != expected => {
                return Err(InterfaceError::ExportType {
                    name: name.to_string(),
                    expected: describe(expected),
                });
            }
            Some(_) => {}
        }
    }
    // Optional exports are checked for their type when present.
    for name in optional_entry_points(kind).iter().chain([&MIGRATE_EXPORT]) {
        if let Some(found) = find(name)
            && found != ItemType::Func(ENTRY)
        {
            return Err(InterfaceError::ExportType {
                name: name.to_string(),
                expected: describe(ItemType::Func(ENTRY)),
            });
        }
    }
    Ok(())
}

fn describe(ty: ItemType<'_>) -> String {
    match ty {
        ItemType::Func(sig) => alloc::format!("a function {sig}"),
        ItemType::Memory => "a memory".to_string(),
        ItemType::Other => "something else".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn rpc_exports() -> Vec<(&'static str, ItemType<'static>)> {
        let mut e: Vec<_> = COMMON_EXPORTS.to_vec();
        e.push(("molt_rpc_handle", ItemType::Func(ENTRY)));
        e
    }

    #[test]
    fn accepts_a_minimal_rpc_module() {
        let log = ItemType::Func(HOST_IMPORTS[0].1);
        let imports = [
            ("molt", "log", log),
            (WASI_MODULE, "random_get", ItemType::Func(ENTRY)),
        ];
        assert_eq!(check(Kind::Rpc, imports, rpc_exports()), Ok(()));
    }

    #[test]
    fn refuses_randomness_for_execution() {
        let imports = [(WASI_MODULE, "random_get", ItemType::Func(ENTRY))];
        assert_eq!(
            check(Kind::Execution, imports, rpc_exports()),
            Err(InterfaceError::ImportNotAllowed {
                module: WASI_MODULE.into(),
                name: "random_get".into(),
                kind: Kind::Execution
            })
        );
    }

    #[test]
    fn state_imports_are_for_execution_only() {
        let sig = ItemType::Func(EXECUTION_IMPORTS[0].1);
        let mut exec_exports: Vec<_> = COMMON_EXPORTS.to_vec();
        exec_exports.extend(
            entry_points(Kind::Execution)
                .iter()
                .map(|n| (*n, ItemType::Func(ENTRY))),
        );
        assert_eq!(
            check(
                Kind::Execution,
                [("molt", "state_account", sig)],
                exec_exports.clone()
            ),
            Ok(())
        );
        assert!(matches!(
            check(Kind::Rpc, [("molt", "state_account", sig)], rpc_exports()),
            Err(InterfaceError::ImportNotAllowed { .. })
        ));
        let chain = ItemType::Func(RPC_IMPORTS[0].1);
        assert_eq!(
            check(Kind::Rpc, [("molt", "chain", chain)], rpc_exports()),
            Ok(())
        );
        assert!(matches!(
            check(Kind::Execution, [("molt", "chain", chain)], exec_exports),
            Err(InterfaceError::ImportNotAllowed { .. })
        ));
        let keccak = ItemType::Func(HOST_IMPORTS[1].1);
        assert_eq!(
            check(
                Kind::Rpc,
                [("vm_hooks", "native_keccak256", keccak)],
                rpc_exports()
            ),
            Ok(())
        );
    }

    #[test]
    fn names_the_missing_export() {
        let mut exports = rpc_exports();
        exports.retain(|(n, _)| *n != "molt_alloc");
        assert_eq!(
            check(Kind::Rpc, [], exports),
            Err(InterfaceError::MissingExport("molt_alloc"))
        );
        assert_eq!(
            check(Kind::Execution, [], rpc_exports()),
            Err(InterfaceError::MissingExport("molt_execute_block"))
        );
    }

    #[test]
    fn checks_signatures() {
        let mut exports = rpc_exports();
        exports.push((
            MIGRATE_EXPORT,
            ItemType::Func(FuncSig {
                params: &[],
                results: &[],
            }),
        ));
        assert!(matches!(
            check(Kind::Rpc, [], exports),
            Err(InterfaceError::ExportType { .. })
        ));
        let bad_log = ItemType::Func(FuncSig {
            params: &[I32],
            results: &[],
        });
        assert!(matches!(
            check(Kind::Rpc, [("molt", "log", bad_log)], rpc_exports()),
            Err(InterfaceError::ImportType { .. })
        ));
    }
}
