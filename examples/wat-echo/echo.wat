;; examples/wat-echo/echo.wat — an `rpc` guest written by hand from abi/ABI.md alone.
;;
;; It answers every request body with the same bytes (a JSON-RPC "mirror"), and logs
;; the size of each request through the `molt.log` host import. Run it:
;;
;;   cargo run -p molt-host -- module keygen -o /tmp/publisher.key
;;   cargo run -p molt-host -- module sign --key /tmp/publisher.key \
;;       --manifest examples/wat-echo/manifest.toml examples/wat-echo/echo.wat -o /tmp/wat-echo.wasm
;;   cargo run -p molt-host -- module call --trusted /tmp/publisher.key.pub /tmp/wat-echo.wasm \
;;       --input '{"jsonrpc":"2.0","id":1,"method":"hello"}'
(module
  ;; ABI §5: host imports live in module "molt".
  (import "molt" "log" (func $log (param i32 i32 i32)))

  ;; ABI §2: one exported memory.
  (memory (export "memory") 1)

  ;; The log message, at a fixed address.
  (data (i32.const 16) "wat-echo: mirrored a request")
  (global $msg_len i32 (i32.const 28))

  ;; A bump allocator: every call runs in a fresh instance (ABI §1), so nothing is
  ;; ever reused and `molt_free` has nothing to do.
  (global $heap (mut i32) (i32.const 1024))

  ;; ABI §2: the version this module implements.
  (func (export "molt_abi_version") (result i32)
    (i32.const 1))

  ;; ABI §2: `len` fresh bytes, or 0 if memory cannot grow enough.
  (func $alloc (export "molt_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local $end i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    ;; Grow memory (64 KiB pages) until `end` fits.
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (local.get $end)
                               (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (return (i32.const 0))))
        (br $grow)))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  ;; ABI §2: regions are never reused, so freeing is a no-op.
  (func (export "molt_free") (param $ptr i32) (param $len i32))

  ;; ABI §3-4: the rpc entry point. The output is one status byte (0x00 = success)
  ;; followed by the payload — here, the request itself.
  (func (export "molt_rpc_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local.set $out (call $alloc (i32.add (local.get $len) (i32.const 1))))
    (if (i32.eqz (local.get $out)) (then unreachable))
    (i32.store8 (local.get $out) (i32.const 0))
    (memory.copy (i32.add (local.get $out) (i32.const 1)) (local.get $ptr) (local.get $len))
    ;; Log at level 2 (info).
    (call $log (i32.const 2) (i32.const 16) (global.get $msg_len))
    ;; Pack (out_ptr << 32) | out_len.
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (i32.add (local.get $len) (i32.const 1)))))
)
