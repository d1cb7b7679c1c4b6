//! Per-store resource limits: linear memory, tables and instances.

use wasmtime::ResourceLimiter;

/// A guest asked for more linear memory than its budget. The growth is refused
/// (`memory.grow` returns -1, as WebAssembly specifies) and the refusal remembered: if
/// the call then fails, this is why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("memory budget exceeded: asked for {requested} bytes, budget is {limit}")]
pub struct MemoryLimitExceeded {
    /// Bytes asked for.
    pub requested: u64,
    /// The budget.
    pub limit: u64,
}

/// Table elements a module may have (function tables of large Rust guests stay well
/// under this).
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The limiter installed in every store: one instance, one memory of at most
/// `memory_limit` bytes, one table; it records the peak memory it allowed and the
/// first growth it refused.
#[derive(Debug)]
pub struct Limiter {
    memory_limit: usize,
    peak_memory: usize,
    refused: Option<MemoryLimitExceeded>,
}

impl Limiter {
    /// A limiter with this memory budget.
    pub fn new(memory_limit: usize) -> Self {
        Limiter {
            memory_limit,
            peak_memory: 0,
            refused: None,
        }
    }

    /// The largest linear memory size granted so far, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.peak_memory
    }

    /// The first growth past the budget, if one was asked for.
    pub fn refused(&self) -> Option<MemoryLimitExceeded> {
        self.refused
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.refused.get_or_insert(MemoryLimitExceeded {
                requested: desired as u64,
                limit: self.memory_limit as u64,
            });
            return Ok(false);
        }
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}
