//! The runtime's errors: why a module could not be loaded, why a call failed.

use molt_abi::interface::InterfaceError;

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Cranelift refused the module (invalid or unsupported WebAssembly).
    #[error("compile failed: {0}")]
    Compile(String),
    /// The module does not fit the ABI for its kind.
    #[error("does not fit the ABI: {0}")]
    Interface(InterfaceError),
    /// The manifest names an ABI version this node does not run.
    #[error("unknown ABI version {0}")]
    UnknownAbi(u32),
    /// `molt_abi_version` returned something other than the manifest's version.
    #[error("molt_abi_version returned {found}, the manifest says {expected}")]
    AbiMismatch {
        /// What the manifest says.
        expected: u32,
        /// What the module said.
        found: u32,
    },
    /// The module could not even report its ABI version.
    #[error("first call failed: {0}")]
    FirstCall(CallError),
    /// The operator granted a directory that cannot be opened.
    #[error("cannot open granted directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// What the filesystem said.
        source: std::io::Error,
    },
    /// Linking failed (a host-side bug, not the module's fault).
    #[error("link failed: {0}")]
    Link(String),
}

// Not `#[from]`: the messages above already include the inner error, and a `source`
// would make reports that print the chain repeat it.
impl From<InterfaceError> for LoadError {
    fn from(e: InterfaceError) -> Self {
        LoadError::Interface(e)
    }
}

impl From<CallError> for LoadError {
    fn from(e: CallError) -> Self {
        LoadError::FirstCall(e)
    }
}

/// Why one call into a guest failed. The module stays loaded; the next call gets a
/// fresh instance.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    /// The guest used all the fuel it was given (deterministic kinds).
    #[error("out of fuel: the call used its budget of {budget} units")]
    OutOfFuel {
        /// The fuel budget.
        budget: u64,
    },
    /// The guest ran past its wall-clock deadline (`rpc`).
    #[error("timed out after {budget_ms} ms")]
    Timeout {
        /// The time budget.
        budget_ms: u64,
    },
    /// The guest tried to grow its linear memory past its budget.
    #[error("memory budget exceeded: asked for {requested} bytes, budget is {limit}")]
    MemoryLimit {
        /// Bytes of linear memory asked for.
        requested: u64,
        /// The budget.
        limit: u64,
    },
    /// The guest's call stack overflowed.
    #[error("stack overflow")]
    StackOverflow,
    /// The guest trapped (unreachable, division by zero, out-of-bounds access, ...).
    #[error("guest trapped: {0}")]
    Trap(String),
    /// A pointer and length from the guest do not lie inside its memory.
    #[error(
        "bad pointer from guest: {len} bytes at {ptr:#x} is outside its {memory} bytes of memory"
    )]
    BadPointer {
        /// The pointer.
        ptr: u32,
        /// The length.
        len: u32,
        /// The memory's size.
        memory: u64,
    },
    /// The input is larger than the host passes to guests.
    #[error("input of {len} bytes exceeds the limit of {limit}")]
    InputTooLarge {
        /// Input size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The guest's output is larger than the host accepts.
    #[error("output of {len} bytes exceeds the limit of {limit}")]
    OutputTooLarge {
        /// Output size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// `molt_alloc` returned 0 for a non-empty input.
    #[error("molt_alloc could not allocate {len} bytes")]
    AllocFailed {
        /// Bytes asked for.
        len: u32,
    },
    /// The output region does not start with a known status byte.
    #[error("malformed output: {0}")]
    BadOutput(String),
    /// The guest refused its input with this message (status byte 1).
    #[error("refused by the module: {0}")]
    Refused(String),
    /// The host could not serve a state read the guest asked for.
    #[error("state unavailable: {0}")]
    State(String),
    /// The guest called WASI `proc_exit`.
    #[error("guest exited with code {0}")]
    Exited(i32),
    /// The module has no such entry point.
    #[error("no entry point `{0}`")]
    NoEntry(String),
    /// The store could not be set up (a host-side problem).
    #[error("host error: {0}")]
    Host(String),
}

impl CallError {
    /// The failure's kind, as metrics label it: `trap`, `out_of_fuel`, `timeout`,
    /// `memory_budget`, `refused` (the module refused its input) or `host` (the host
    /// could not serve the call).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::OutOfFuel { .. } => "out_of_fuel",
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } | CallError::AllocFailed { .. } => "memory_budget",
            CallError::Refused(_) => "refused",
            CallError::StackOverflow
            | CallError::Trap(_)
            | CallError::BadPointer { .. }
            | CallError::OutputTooLarge { .. }
            | CallError::BadOutput(_)
            | CallError::Exited(_) => "trap",
            CallError::InputTooLarge { .. }
            | CallError::State(_)
            | CallError::NoEntry(_)
            | CallError::Host(_) => "host",
        }
    }
}

impl From<crate::limits::MemoryLimitExceeded> for CallError {
    fn from(m: crate::limits::MemoryLimitExceeded) -> Self {
        CallError::MemoryLimit {
            requested: m.requested,
            limit: m.limit,
        }
    }
}
