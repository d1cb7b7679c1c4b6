//! Per-store resource limits: linear memory, tables and instances.

use wasmtime::ResourceLimiter;

/// Raised (as a trap) when a guest asks for more linear memory than its budget.
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
/// `memory_limit` bytes, one table; it records the peak memory it allowed.
#[derive(Debug)]
pub struct Limiter {
    memory_limit: usize,
    peak_memory: usize,
}

impl Limiter {
    /// A limiter with this memory budget.
    pub fn new(memory_limit: usize) -> Self {
        Limiter {
            memory_limit,
            peak_memory: 0,
        }
    }

    /// The largest linear memory size granted so far, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.peak_memory
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
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                requested: desired as u64,
                limit: self.memory_limit as u64,
            }));
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
