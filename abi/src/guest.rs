//! Bindings for Rust guests (feature `guest`).
//!
//! A guest crate writes its logic as ordinary functions over [`crate::imports::Host`]
//! and exports them with one of [`export_rpc!`](crate::export_rpc),
//! [`export_execution!`](crate::export_execution) or
//! [`export_consensus!`](crate::export_consensus). The macros generate `molt_abi_version`,
//! `molt_alloc`, `molt_free` and the kind's entry points, only when compiling for
//! `wasm32`: the same crate built natively is a plain library the host links directly.
//!
//! Each handler has the signature
//! `fn(&impl Host, &[u8]) -> Result<Vec<u8>, GuestError>`; the macros frame its result
//! as described in [`crate::envelope`].

use alloc::alloc::{Layout, alloc as raw_alloc, dealloc};
use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::envelope::{GuestError, encode_output, pack};

/// The host as seen from inside WebAssembly: each method calls the `molt` import of
/// the same name.
#[cfg(target_arch = "wasm32")]
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmHost;

#[cfg(target_arch = "wasm32")]
mod sys {
    #[link(wasm_import_module = "molt")]
    unsafe extern "C" {
        pub fn log(level: u32, ptr: *const u8, len: usize);
        pub fn keccak256(ptr: *const u8, len: usize, out: *mut u8);
        pub fn secp256k1_recover(msg: *const u8, sig: *const u8, recid: u32, out: *mut u8) -> i32;
        pub fn ed25519_verify(
            msg: *const u8,
            msg_len: usize,
            sig: *const u8,
            key: *const u8,
        ) -> i32;
        pub fn state_account(address: *const u8, out: *mut u8) -> i32;
        pub fn state_storage(address: *const u8, slot: *const u8, out: *mut u8);
        pub fn state_code(hash: *const u8, out: *mut u8, cap: usize) -> i32;
        pub fn block_hash(number: u64, out: *mut u8) -> i32;
        pub fn chain(ptr: *const u8, len: usize) -> i32;
        pub fn chain_read(out: *mut u8);
    }
}

#[cfg(target_arch = "wasm32")]
impl crate::imports::Host for WasmHost {
    fn log(&self, level: crate::imports::Level, message: &str) {
        // SAFETY: the pointer and length describe `message`, which outlives the call;
        // the host only reads that range.
        unsafe { sys::log(level as u32, message.as_ptr(), message.len()) }
    }

    fn keccak256(&self, data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: `data` is readable for its length and `out` writable for 32 bytes;
        // the host writes exactly 32 bytes at `out`.
        unsafe { sys::keccak256(data.as_ptr(), data.len(), out.as_mut_ptr()) };
        out
    }

    fn secp256k1_recover(&self, msg: &[u8; 32], sig: &[u8; 64], recid: u8) -> Option<[u8; 20]> {
        let mut out = [0u8; 20];
        // SAFETY: 32 readable message bytes, 64 readable signature bytes, 20 writable
        // bytes at `out`, which is what the import reads and writes.
        let ok = unsafe {
            sys::secp256k1_recover(msg.as_ptr(), sig.as_ptr(), recid as u32, out.as_mut_ptr())
        };
        (ok == 1).then_some(out)
    }

    fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], key: &[u8; 32]) -> bool {
        // SAFETY: `msg` is readable for its length, `sig` for 64 bytes and `key` for 32,
        // which is all the import reads.
        unsafe { sys::ed25519_verify(msg.as_ptr(), msg.len(), sig.as_ptr(), key.as_ptr()) == 1 }
    }
}

#[cfg(target_arch = "wasm32")]
impl crate::imports::StateHost for WasmHost {
    fn account(&self, address: &alloy_primitives::Address) -> Option<crate::imports::Account> {
        let mut out = [0u8; 72];
        // SAFETY: `address` is 20 readable bytes and `out` 72 writable ones, which is
        // exactly what `molt.state_account` reads and writes.
        let found = unsafe { sys::state_account(address.as_ptr(), out.as_mut_ptr()) };
        (found == 1).then(|| crate::imports::Account {
            balance: alloy_primitives::U256::from_be_slice(&out[..32]),
            nonce: u64::from_be_bytes(out[32..40].try_into().unwrap_or_default()),
            code_hash: alloy_primitives::B256::from_slice(&out[40..]),
        })
    }

    fn storage(
        &self,
        address: &alloy_primitives::Address,
        slot: &alloy_primitives::U256,
    ) -> alloy_primitives::U256 {
        let slot = slot.to_be_bytes::<32>();
        let mut out = [0u8; 32];
        // SAFETY: 20 readable address bytes, 32 readable slot bytes, 32 writable bytes.
        unsafe { sys::state_storage(address.as_ptr(), slot.as_ptr(), out.as_mut_ptr()) };
        alloy_primitives::U256::from_be_bytes(out)
    }

    fn code(&self, code_hash: &alloy_primitives::B256) -> Option<Vec<u8>> {
        let mut buf = alloc::vec![0u8; 32 * 1024];
        loop {
            // SAFETY: 32 readable hash bytes; `buf` is writable for its length, and the
            // host writes only if the code fits.
            let len = unsafe { sys::state_code(code_hash.as_ptr(), buf.as_mut_ptr(), buf.len()) };
            let len = usize::try_from(len).ok()?;
            if len <= buf.len() {
                buf.truncate(len);
                return Some(buf);
            }
            buf.resize(len, 0);
        }
    }

    fn block_hash(&self, number: u64) -> Option<alloy_primitives::B256> {
        let mut out = [0u8; 32];
        // SAFETY: `out` is 32 writable bytes.
        let found = unsafe { sys::block_hash(number, out.as_mut_ptr()) };
        (found == 1).then_some(alloy_primitives::B256::from(out))
    }
}

#[cfg(target_arch = "wasm32")]
impl crate::imports::ChainHost for WasmHost {
    fn chain(&self, request: &[u8]) -> Vec<u8> {
        // SAFETY: the host reads `request` for its length.
        let len = unsafe { sys::chain(request.as_ptr(), request.len()) };
        let Ok(len) = usize::try_from(len) else {
            return Vec::new();
        };
        let mut out = alloc::vec![0u8; len];
        // SAFETY: `out` is writable for `len` bytes, the length the host just reported
        // for the response it copies.
        unsafe { sys::chain_read(out.as_mut_ptr()) };
        out
    }
}

/// `molt_alloc`: a fresh region of `len` bytes, or 0 if it cannot be allocated.
pub fn alloc(len: u32) -> u32 {
    if len == 0 {
        return 0;
    }
    match Layout::from_size_align(len as usize, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { raw_alloc(layout) as usize as u32 },
        Err(_) => 0,
    }
}

/// `molt_free`: releases a region returned by [`alloc()`] or by an entry point.
///
/// # Safety
/// `(ptr, len)` must be a region this module allocated and has not freed.
pub unsafe fn free(ptr: u32, len: u32) {
    if ptr == 0 || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len as usize, 1) {
        // SAFETY: the caller passes a live region allocated with this layout.
        unsafe { dealloc(ptr as usize as *mut u8, layout) }
    }
}

/// Runs `handler` on the input region and returns the packed output region. The
/// input is freed afterwards: the host hands its ownership to the guest.
///
/// # Safety
/// `(ptr, len)` must be a live region from [`alloc()`] (or `(0, 0)`), filled by the host.
pub unsafe fn run(
    ptr: u32,
    len: u32,
    handler: impl FnOnce(&[u8]) -> Result<Vec<u8>, GuestError>,
) -> u64 {
    let result = if len == 0 {
        handler(&[])
    } else {
        // SAFETY: per the contract, `len` initialised bytes live at `ptr`.
        let input = unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
        handler(input)
    };
    // SAFETY: the input region came from `alloc` and is no longer borrowed.
    unsafe { free(ptr, len) };
    let out: Box<[u8]> = encode_output(result).into_boxed_slice();
    let out_len = out.len() as u32;
    let out_ptr = Box::into_raw(out) as *mut u8 as usize as u32;
    pack(out_ptr, out_len)
}

/// Generates the common exports and the given entry points, on `wasm32` only.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_entries {
    ($($export:ident => $handler:path),+ $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn molt_abi_version() -> u32 {
                $crate::ABI_VERSION
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn molt_alloc(len: u32) -> u32 {
                $crate::guest::alloc(len)
            }

            /// # Safety
            /// Called by the host with a region this module allocated.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn molt_free(ptr: u32, len: u32) {
                // SAFETY: the host only frees regions the module handed it.
                unsafe { $crate::guest::free(ptr, len) }
            }

            $(
                /// # Safety
                /// Called by the host with an input region from `molt_alloc`.
                #[unsafe(no_mangle)]
                pub unsafe extern "C" fn $export(ptr: u32, len: u32) -> u64 {
                    // SAFETY: the host passes a region it filled after `molt_alloc`.
                    unsafe {
                        $crate::guest::run(ptr, len, |input| {
                            $handler(&$crate::guest::WasmHost, input)
                        })
                    }
                }
            )+
        };
    };
}

/// Exports an `rpc` module: `molt_rpc_handle` runs `$handle(host, request_json)`.
#[macro_export]
macro_rules! export_rpc {
    ($handle:path) => {
        $crate::__export_entries!(molt_rpc_handle => $handle);
    };
}

/// Exports an `execution` module: `molt_execute_block` and `molt_execute_call`, and
/// `molt_execute_trace` when a third function is given.
#[macro_export]
macro_rules! export_execution {
    ($block:path, $call:path) => {
        $crate::__export_entries!(molt_execute_block => $block, molt_execute_call => $call);
    };
    ($block:path, $call:path, $trace:path) => {
        $crate::__export_entries!(
            molt_execute_block => $block,
            molt_execute_call => $call,
            molt_execute_trace => $trace,
        );
    };
}

/// Exports a `consensus` module: `molt_consensus_propose` and `molt_consensus_validate`,
/// and `molt_consensus_validators` when a third function is given.
#[macro_export]
macro_rules! export_consensus {
    ($propose:path, $validate:path) => {
        $crate::__export_entries!(
            molt_consensus_propose => $propose,
            molt_consensus_validate => $validate,
        );
    };
    ($propose:path, $validate:path, $validators:path) => {
        $crate::__export_entries!(
            molt_consensus_propose => $propose,
            molt_consensus_validate => $validate,
            molt_consensus_validators => $validators,
        );
    };
}
