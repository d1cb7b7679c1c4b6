//! The `molt` host imports, as wasmtime host functions.
//!
//! Each import reads and writes guest memory only through bounds-checked ranges; a
//! range outside memory fails the call with [`GuestFault::BadPointer`] instead of
//! touching anything. What an import *does* lives in `crate::services`.

use alloy_primitives::{Address, B256, U256};
use molt_abi::IMPORT_MODULE;
use molt_abi::imports::Level;
use molt_abi::interface::KECCAK_ALIAS;
use wasmtime::{Caller, Extern, Linker, Memory};

use crate::services;
use crate::store::{CallContext, StoreData};

/// A guest passed the host something it cannot use; the call fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestFault {
    /// The host could not read the state the guest asked for.
    #[error("{0}")]
    State(String),
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

/// Keeps `answer` in `slot` for the matching `*_read` import and returns its length,
/// which the guest allocates before reading (`molt.chain`, `molt.precompile`).
fn stage(slot: &mut Vec<u8>, answer: Vec<u8>, what: &str) -> wasmtime::Result<i32> {
    let len = i32::try_from(answer.len())
        .map_err(|_| wasmtime::Error::msg(format!("{what} too large")))?;
    *slot = answer;
    Ok(len)
}

/// Copies what [`stage`] kept in `slot` to the guest's `out` and empties the slot
/// (`molt.chain_read`, `molt.precompile_read`).
fn unstage(data: &mut [u8], slot: &mut Vec<u8>, out: u32) -> wasmtime::Result<()> {
    let answer = std::mem::take(slot);
    let dst = range(data, out, answer.len() as u32)?;
    data[dst].copy_from_slice(&answer);
    Ok(())
}

/// Adds the imports every kind may use (`molt.log`, `molt.keccak256`,
/// `molt.secp256k1_recover`, `molt.ed25519_verify`).
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
    for (module, name) in [(IMPORT_MODULE, "keccak256"), KECCAK_ALIAS] {
        linker.func_wrap(
            module,
            name,
            |mut caller: Caller<'_, StoreData>, ptr: u32, len: u32, out: u32| {
                let mem = memory(&mut caller)?;
                let data = mem.data_mut(&mut caller);
                let hash = services::keccak256(&data[range(data, ptr, len)?]);
                let dst = range(data, out, 32)?;
                data[dst].copy_from_slice(&hash);
                Ok(())
            },
        )?;
    }
    linker.func_wrap(
        IMPORT_MODULE,
        "secp256k1_recover",
        |mut caller: Caller<'_, StoreData>,
         msg: u32,
         sig: u32,
         recid: u32,
         out: u32|
         -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let data = mem.data_mut(&mut caller);
            let msg: [u8; 32] = data[range(data, msg, 32)?].try_into().unwrap_or([0; 32]);
            let sig: [u8; 64] = data[range(data, sig, 64)?].try_into().unwrap_or([0; 64]);
            let dst = range(data, out, 20)?;
            let Some(address) = u8::try_from(recid)
                .ok()
                .and_then(|r| services::secp256k1_recover(&msg, &sig, r))
            else {
                return Ok(0);
            };
            data[dst].copy_from_slice(&address);
            Ok(1)
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "ed25519_verify",
        |mut caller: Caller<'_, StoreData>,
         msg: u32,
         msg_len: u32,
         sig: u32,
         key: u32|
         -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let data = mem.data(&caller);
            let msg = &data[range(data, msg, msg_len)?];
            let sig: [u8; 64] = data[range(data, sig, 64)?].try_into().unwrap_or([0; 64]);
            let key: [u8; 32] = data[range(data, key, 32)?].try_into().unwrap_or([0; 32]);
            Ok(i32::from(services::ed25519_verify(msg, &sig, &key)))
        },
    )?;
    Ok(())
}

/// Fails a state or chain read when injected faults say so (`crate::chaos`).
fn chaos(store: &StoreData) -> wasmtime::Result<()> {
    let (chaos, labels) = &store.chaos;
    match chaos.import_fails(&labels.slot, &labels.version) {
        true => Err(wasmtime::Error::new(GuestFault::State(
            "chaos: injected import failure".into(),
        ))),
        false => Ok(()),
    }
}

fn state_fault(e: molt_storage::state::StateError) -> wasmtime::Error {
    wasmtime::Error::new(GuestFault::State(e.to_string()))
}

fn no_state() -> wasmtime::Error {
    wasmtime::Error::new(GuestFault::State("this call has no state to read".into()))
}

fn state(store: &StoreData) -> wasmtime::Result<&dyn molt_storage::state::StateView> {
    chaos(store)?;
    match &store.context {
        CallContext::State(s) => Ok(s.as_ref()),
        _ => Err(no_state()),
    }
}

/// Adds the `execution` kind's state reads. They serve the [`StateView`] the call
/// was started with (see `LoadedModule::call_with_state`).
///
/// [`StateView`]: molt_storage::state::StateView
pub fn add_execution(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.func_wrap(
        IMPORT_MODULE,
        "precompile",
        |mut caller: Caller<'_, StoreData>,
         spec: u32,
         spec_len: u32,
         address: u32,
         input: u32,
         input_len: u32,
         gas_limit: i64|
         -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let Ok(spec) = std::str::from_utf8(&data[range(data, spec, spec_len)?]) else {
                return Ok(-1);
            };
            let address: [u8; 20] = data[range(data, address, 20)?]
                .try_into()
                .map_err(|_| wasmtime::Error::msg("20 bytes"))?;
            let input = &data[range(data, input, input_len)?];
            let Some(answer) = services::precompile(spec, &address, input, gas_limit as u64) else {
                return Ok(-1);
            };
            stage(&mut store.precompile_answer, answer, "precompile answer")
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "precompile_read",
        |mut caller: Caller<'_, StoreData>, out: u32| -> wasmtime::Result<()> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            unstage(data, &mut store.precompile_answer, out)
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "state_account",
        |mut caller: Caller<'_, StoreData>, address: u32, out: u32| -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let address = Address::from_slice(&data[range(data, address, 20)?]);
            let state = state(store)?;
            let Some(account) = state.account(&address).map_err(state_fault)? else {
                return Ok(0);
            };
            let dst = range(data, out, 72)?;
            let dst = &mut data[dst];
            dst[..32].copy_from_slice(&account.balance.to_be_bytes::<32>());
            dst[32..40].copy_from_slice(&account.nonce.to_be_bytes());
            dst[40..].copy_from_slice(account.code_hash.as_slice());
            Ok(1)
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "state_storage",
        |mut caller: Caller<'_, StoreData>, address: u32, slot: u32, out: u32| {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let address = Address::from_slice(&data[range(data, address, 20)?]);
            let slot = U256::from_be_slice(&data[range(data, slot, 32)?]);
            let state = state(store)?;
            let value = state.storage(&address, &slot).map_err(state_fault)?;
            let dst = range(data, out, 32)?;
            data[dst].copy_from_slice(&value.to_be_bytes::<32>());
            Ok(())
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "state_code",
        |mut caller: Caller<'_, StoreData>,
         hash: u32,
         out: u32,
         cap: u32|
         -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let hash = B256::from_slice(&data[range(data, hash, 32)?]);
            let state = state(store)?;
            let Some(code) = state.code(&hash).map_err(state_fault)? else {
                return Ok(-1);
            };
            let len =
                i32::try_from(code.len()).map_err(|_| wasmtime::Error::msg("code too large"))?;
            if code.len() <= cap as usize {
                let dst = range(data, out, code.len() as u32)?;
                data[dst].copy_from_slice(&code);
            }
            Ok(len)
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "block_hash",
        |mut caller: Caller<'_, StoreData>, number: u64, out: u32| -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let state = state(store)?;
            let Some(hash) = state.block_hash(number).map_err(state_fault)? else {
                return Ok(0);
            };
            let dst = range(data, out, 32)?;
            data[dst].copy_from_slice(hash.as_slice());
            Ok(1)
        },
    )?;
    Ok(())
}

/// Adds the `rpc` kind's chain queries (`molt.chain`, `molt.chain_read`). They serve
/// the [`ChainService`](crate::services::ChainService) the call was started with.
pub fn add_rpc(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.func_wrap(
        IMPORT_MODULE,
        "chain",
        |mut caller: Caller<'_, StoreData>, ptr: u32, len: u32| -> wasmtime::Result<i32> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let request = &data[range(data, ptr, len)?];
            let CallContext::Chain(chain) = &store.context else {
                return Err(wasmtime::Error::new(GuestFault::State(
                    "this call has no chain to query".into(),
                )));
            };
            chaos(store)?;
            // The operation byte (abi/ABI.md section 10), for traces.
            let op = request.first().copied().unwrap_or_default();
            let response = tracing::debug_span!(target: "molt::chain", "chain_query", op)
                .in_scope(|| chain.query(request));
            stage(&mut store.chain_response, response, "chain response")
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        "chain_read",
        |mut caller: Caller<'_, StoreData>, out: u32| -> wasmtime::Result<()> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            unstage(data, &mut store.chain_response, out)
        },
    )?;
    Ok(())
}
