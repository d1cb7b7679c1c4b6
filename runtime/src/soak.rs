//! Many calls in one instance, for `molt module check`: whether a module's
//! allocator hands out bytes still in use, and whether its memory grows call after
//! call. The node itself never does this (every call gets a fresh instance), so what
//! it finds is a defect a module carries, not one the node suffers from today.

use molt_abi::unpack;
use wasmtime::{Instance, Store, TypedFunc};

use crate::error::CallError;
use crate::module::LoadedModule;
use crate::store::{CallContext, StoreData};

/// What [`LoadedModule::soak`] saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Soak {
    /// Calls made (all in one instance).
    pub calls: u32,
    /// Linear memory after the first call, in bytes.
    pub memory_after_first: u64,
    /// Linear memory after the last call, in bytes.
    pub memory_after_last: u64,
    /// The first time `molt_alloc` returned bytes that were still in use, in words.
    pub overlap: Option<String>,
}

/// A region of linear memory the host holds.
#[derive(Clone, Copy, Debug)]
struct Region {
    ptr: u32,
    len: u32,
    what: &'static str,
}

impl Region {
    fn overlaps(&self, other: &Region) -> bool {
        let end = |r: &Region| r.ptr as u64 + r.len.max(1) as u64;
        (self.ptr as u64) < end(other) && (other.ptr as u64) < end(self)
    }
}

struct Exports {
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    entry: TypedFunc<(u32, u32), u64>,
}

impl LoadedModule {
    /// The linear memory an instance starts with, in bytes.
    pub fn initial_memory(&self) -> u64 {
        match self.pre.module().get_export("memory") {
            Some(wasmtime::ExternType::Memory(m)) => m.minimum() * m.page_size(),
            _ => 0,
        }
    }

    /// Calls `entry` with `input` `calls` times in **one** instance, as a long-lived
    /// host would: each input from `molt_alloc`, each output released with
    /// `molt_free` once the next input is allocated (so the allocator must not hand
    /// out a live output). Eight regions of assorted sizes are also allocated side by
    /// side and freed first. The first failing call ends the soak with its error.
    pub fn soak(
        &self,
        entry: &str,
        input: &[u8],
        context: CallContext,
        calls: u32,
    ) -> Result<Soak, CallError> {
        let (mut store, instance) = self.instantiate(context, None)?;
        let host = |e: wasmtime::Error| CallError::Host(format!("{e}"));
        let exports = Exports {
            alloc: instance
                .get_typed_func(&mut store, "molt_alloc")
                .map_err(host)?,
            free: instance
                .get_typed_func(&mut store, "molt_free")
                .map_err(host)?,
            entry: instance
                .get_typed_func(&mut store, entry)
                .map_err(|_| CallError::NoEntry(entry.to_string()))?,
        };
        let mut soak = Soak::default();
        let mut held: Vec<Region> = Vec::new();
        for len in [1u32, 7, 16, 33, 100, 4096, 3, 65_536] {
            let what = "side-by-side region";
            let ptr = self.alloc(&mut store, &exports, len)?;
            note_overlap(&mut soak, &held, Region { ptr, len, what });
            held.push(Region { ptr, len, what });
        }
        for r in held.drain(..) {
            exports
                .free
                .call(&mut store, (r.ptr, r.len))
                .map_err(|e| self.fail_in(&store, e))?;
        }
        let mut output: Option<Region> = None;
        for call in 0..calls {
            let len = input.len() as u32;
            let ptr = if input.is_empty() {
                0
            } else {
                let ptr = self.alloc(&mut store, &exports, len)?;
                let region = Region {
                    ptr,
                    len,
                    what: "input",
                };
                note_overlap(&mut soak, output.as_slice(), region);
                write(&instance, &mut store, ptr, input)?;
                ptr
            };
            if let Some(out) = output.take() {
                exports
                    .free
                    .call(&mut store, (out.ptr, out.len))
                    .map_err(|e| self.fail_in(&store, e))?;
            }
            let (out_ptr, out_len) = unpack(
                exports
                    .entry
                    .call(&mut store, (ptr, len))
                    .map_err(|e| self.fail_in(&store, e))?,
            );
            output = Some(Region {
                ptr: out_ptr,
                len: out_len,
                what: "output",
            });
            let size = memory_size(&instance, &mut store);
            if call == 0 {
                soak.memory_after_first = size;
            }
            soak.memory_after_last = size;
            soak.calls += 1;
        }
        Ok(soak)
    }

    fn alloc(
        &self,
        store: &mut Store<StoreData>,
        exports: &Exports,
        len: u32,
    ) -> Result<u32, CallError> {
        let ptr = exports
            .alloc
            .call(&mut *store, len)
            .map_err(|e| self.fail_in(store, e))?;
        if ptr == 0 {
            return Err(CallError::AllocFailed { len });
        }
        Ok(ptr)
    }

    fn fail_in(&self, store: &Store<StoreData>, e: wasmtime::Error) -> CallError {
        self.fail(store, e, None)
    }
}

fn note_overlap(soak: &mut Soak, held: &[Region], new: Region) {
    if soak.overlap.is_some() {
        return;
    }
    if let Some(old) = held.iter().find(|r| r.overlaps(&new)) {
        soak.overlap = Some(format!(
            "molt_alloc({}) returned {:#x}, inside the {} at {:#x}..{:#x} the host still holds",
            new.len,
            new.ptr,
            old.what,
            old.ptr,
            old.ptr as u64 + old.len as u64
        ));
    }
}

fn write(
    instance: &Instance,
    store: &mut Store<StoreData>,
    ptr: u32,
    bytes: &[u8],
) -> Result<(), CallError> {
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| CallError::Host("module exports no memory".into()))?;
    memory
        .write(&mut *store, ptr as usize, bytes)
        .map_err(|_| CallError::BadPointer {
            ptr,
            len: bytes.len() as u32,
            memory: memory.data_size(&*store) as u64,
        })
}

fn memory_size(instance: &Instance, store: &mut Store<StoreData>) -> u64 {
    instance
        .get_memory(&mut *store, "memory")
        .map_or(0, |m| m.data_size(&*store) as u64)
}
