//! The services the host offers every guest, as a trait.
//!
//! A guest written against [`Host`] runs unchanged in two ways: compiled to
//! WebAssembly, where the `guest` feature's `WasmHost` forwards each method to the
//! host import of the same name in module `molt`; and natively (the "native twin"),
//! where the host passes its own implementation. Kinds with more imports (state reads
//! for `execution`, chain queries for `rpc`) extend this trait.

/// Severity of a log line, as passed to the `molt.log` import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Level {
    /// Something failed.
    Error = 0,
    /// Something looks wrong.
    Warn = 1,
    /// Normal operation.
    Info = 2,
    /// Detail for whoever debugs the module.
    Debug = 3,
    /// Very fine detail.
    Trace = 4,
}

impl Level {
    /// The level for a raw import argument; values above 4 read as `Trace`.
    pub const fn from_raw(raw: u32) -> Level {
        match raw {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            3 => Level::Debug,
            _ => Level::Trace,
        }
    }
}

/// Host services available to every kind of module.
pub trait Host {
    /// Writes one line to the node log, tagged with the module's name.
    fn log(&self, level: Level, message: &str);

    /// Keccak-256 of `data`, computed natively by the host.
    fn keccak256(&self, data: &[u8]) -> [u8; 32];
}
