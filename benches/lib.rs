//! molt's criterion benches live in `benches/`; this crate has no library code.
//!
//! Run them all with `cargo bench -p molt-benches`; see each bench file's header for
//! what it measures and how to read it.
