//! The `molt` host imports, as wasmtime host functions.
//!
//! Each import reads and writes guest memory only through bounds-checked ranges; a
//! range outside memory fails the call with [`GuestFault::BadPointer`] instead of
//! touching anything. What an import *does* lives in `crate::services`.

use molt_abi::IMPORT_MODULE;
use molt_abi::imports::Level;
use wasmtime::{Caller, Extern, Linker, Memory};

use super::StoreData;
use crate::services;

/// A guest passed the host something it cannot use; the call fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestFault {
    /// `(ptr, len)` is not inside the guest's memory.
    #[error("{len} bytes at {ptr:#x} lie outside the guest's {memory} bytes of memory")]
    BadPointer {
        /// The pointer.
        ptr: u32,
        /// The length.
        len: u32,
        /// The memory's size.
        memory: u64,
    },
}

fn memory(caller: &mut Caller<'_, StoreData>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::Error::msg("module exports no memory")),
    }
}

fn bad_pointer(mem: &[u8], ptr: u32, len: u32) -> wasmtime::Error {
    wasmtime::Error::new(GuestFault::BadPointer {
        ptr,
        len,
        memory: mem.len() as u64,
    })
}

/// The guest memory range `(ptr, len)`, or a fault.
fn range(mem: &[u8], ptr: u32, len: u32) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = ptr as usize;
    let end = start + len as usize;
    if end > mem.len() {
        return Err(bad_pointer(mem, ptr, len));
    }
    Ok(start..end)
}

/// Adds the imports every kind may use (`molt.log`, `molt.keccak256`).
pub fn add_common(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.func_wrap(
        IMPORT_MODULE,
        "log",
        |mut caller: Caller<'_, StoreData>, level: u32, ptr: u32, len: u32| {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let bytes = &data[range(data, ptr, len)?];
            services::log(
                &store.module,
                Level::from_raw(level),
                &String::from_utf8_lossy(bytes),
            );
            Ok(())
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "keccak256",
        |mut caller: Caller<'_, StoreData>, ptr: u32, len: u32, out: u32| {
            let mem = memory(&mut caller)?;
            let data = mem.data_mut(&mut caller);
            let hash = services::keccak256(&data[range(data, ptr, len)?]);
            let dst = range(data, out, 32)?;
            data[dst].copy_from_slice(&hash);
            Ok(())
        },
    )?;
    Ok(())
}
