//! [`GrowInPlace`]: an allocator wrapper for Rust guests whose large buffers grow by
//! doubling (`Vec`), so their linear memory stays near their live size.
//!
//! A module's linear memory only grows, and dlmalloc (Rust's allocator on
//! `wasm32-wasip1`, from wasi-libc) extends a block in place only when the free space
//! after it is already big enough. A `Vec` at the end of the heap that doubles from
//! S to 2S therefore asks the allocator for 2S it does not have, gets a new block above
//! the old one (growing memory by 2S) and leaves the old S as a hole below. Over a run
//! of doublings the holes add up to about the final size: a buffer that ends at 1 MiB
//! costs ~2 MiB of memory. Natively the same `realloc` is an `mremap`, which leaves no
//! hole.
//!
//! `GrowInPlace` asks the inner allocator for the missing `new - old` bytes first and
//! gives them back at once. When the block ends the heap, that grows the free space
//! after it, and the `realloc` that follows extends the block in place; otherwise the
//! probe took bytes the `realloc` would have taken anyway, or a free block that stays
//! free. Either way nothing is lost, and every call is still an ordinary
//! `alloc`/`dealloc`/`realloc` of the inner allocator, so correctness never depends on
//! the inner allocator's layout.
//!
//! ```ignore
//! #[cfg(target_arch = "wasm32")]
//! #[global_allocator]
//! static HEAP: molt_abi::heap::GrowInPlace<std::alloc::System> =
//!     molt_abi::heap::GrowInPlace(std::alloc::System);
//! ```

use core::alloc::{GlobalAlloc, Layout};

/// Growth of at least this many bytes is probed first (one WebAssembly page); smaller
/// reallocations go straight to the inner allocator.
pub const PROBE_FROM: usize = 64 * 1024;

/// `A`, with large growing reallocations extended in place where `A` can. See the
/// [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct GrowInPlace<A>(pub A);

// SAFETY: every method forwards to `A` with the caller's arguments; the probe in
// `realloc` is a separate, well-formed `alloc`/`dealloc` pair of `A` whose block is
// never handed out.
unsafe impl<A: GlobalAlloc> GlobalAlloc for GrowInPlace<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let missing = new_size.saturating_sub(layout.size());
        if missing >= PROBE_FROM
            && let Ok(probe) = Layout::from_size_align(missing, layout.align())
        {
            // SAFETY: `probe` has a non-zero size; the block, if any, is returned to `A`
            // with the same layout and never used.
            unsafe {
                let block = self.0.alloc(probe);
                if !block.is_null() {
                    self.0.dealloc(block, probe);
                }
            }
        }
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use core::cell::RefCell;
    use std::alloc::System;
    use std::vec::Vec;

    /// The system allocator, recording each call's size.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<(&'static str, usize)>>);

    // SAFETY: forwards to `System`; the test is single-threaded.
    unsafe impl Sync for Recorder {}

    // SAFETY: forwards to `System` unchanged.
    unsafe impl GlobalAlloc for Recorder {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            self.0.borrow_mut().push(("alloc", l.size()));
            // SAFETY: forwarded.
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            self.0.borrow_mut().push(("dealloc", l.size()));
            // SAFETY: forwarded.
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            self.0.borrow_mut().push(("realloc", n));
            // SAFETY: forwarded.
            unsafe { System.realloc(p, l, n) }
        }
    }

    #[test]
    fn large_growth_is_probed_and_the_data_survives() {
        let heap = GrowInPlace(Recorder::default());
        let small = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: layouts are non-zero and each block is freed with its own layout.
        unsafe {
            let p = heap.alloc(small);
            p.write_bytes(7, 1000);
            let p = heap.realloc(p, small, 2000);
            let big = Layout::from_size_align(2000, 8).unwrap();
            let p = heap.realloc(p, big, 2000 + PROBE_FROM);
            assert!((0..1000).all(|i| *p.add(i) == 7));
            heap.dealloc(p, Layout::from_size_align(2000 + PROBE_FROM, 8).unwrap());
        }
        assert_eq!(
            *heap.0.0.borrow(),
            [
                ("alloc", 1000),
                ("realloc", 2000),
                ("alloc", PROBE_FROM),
                ("dealloc", PROBE_FROM),
                ("realloc", 2000 + PROBE_FROM),
                ("dealloc", 2000 + PROBE_FROM),
            ]
        );
    }
}
