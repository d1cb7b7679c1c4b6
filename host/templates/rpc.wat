;; {{name}} — an `rpc` guest module for molt, in the WebAssembly text format
;; (molt module new --kind rpc --lang wat). abi/ABI.md is the contract.
;;
;; It answers JSON-RPC 2.0: `web3_clientVersion` with "{{name}}/0.1.0", `eth_blockNumber`
;; from the node's CHAIN_INFO query (ABI.md section 10, op 0), any other method with
;; -32601, a batch with an array of answers; a body that is not JSON gets -32700, and
;; valid JSON that is no request gets -32600. `molt module sign` and `molt module check`
;; read this file directly.
(module
  ;; ABI section 5: the rpc kind's chain queries.
  (import "molt" "chain" (func $chain (param i32 i32) (result i32)))
  (import "molt" "chain_read" (func $chain_read (param i32)))

  ;; ABI section 2: one exported memory.
  (memory (export "memory") 1)

  ;; Constant strings, NUL-terminated.
  (data (i32.const 16) "web3_clientVersion\00")
  (data (i32.const 48) "eth_blockNumber\00")
  (data (i32.const 64) "{\"jsonrpc\":\"2.0\",\"id\":\00")
  (data (i32.const 96) ",\"result\":\00")
  (data (i32.const 112) ",\"error\":{\"code\":-32601,\"message\":\"method not found\"}}\00")
  (data (i32.const 176) ",\"error\":{\"code\":-32600,\"message\":\"invalid request\"}}\00")
  (data (i32.const 240) ",\"error\":{\"code\":-32700,\"message\":\"parse error\"}}\00")
  (data (i32.const 304) ",\"error\":{\"code\":-32000,\"message\":\"the node did not answer\"}}\00")
  (data (i32.const 384) "null\00")
  ;; A refusal (status 1) for when memory cannot grow.
  (data (i32.const 400) "\01out of memory")
  ;; The CHAIN_INFO request: op 0, no arguments.
  (data (i32.const 432) "\00")
  (data (i32.const 1024) "\"{{name}}/0.1.0\"\00")

  ;; A bump allocator from 4096: every call runs in a fresh instance (ABI section 1),
  ;; so nothing needs reusing and `molt_free` has nothing to do.
  (global $heap (mut i32) (i32.const 4096))
  ;; The end of the request body, and the answer being written.
  (global $end (mut i32) (i32.const 0))
  (global $out (mut i32) (i32.const 0))
  (global $oom (mut i32) (i32.const 0))

  (func (export "molt_abi_version") (result i32) (i32.const 1))

  ;; `len` fresh bytes, or 0 if memory cannot grow (memory.grow returns -1 past the
  ;; module's budget).
  (func $alloc (export "molt_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (if (i32.eqz (call $reserve (i32.add (local.get $ptr) (local.get $len))))
      (then (return (i32.const 0))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $len)))
    (local.get $ptr))

  (func (export "molt_free") (param i32 i32))

  ;; Grows memory to hold `end` bytes; 0 if it cannot.
  (func $reserve (param $end i32) (result i32)
    (local $have i32)
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow (i32.shr_u
                (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                (i32.const 16)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.const 1))

  ;; Appends `len` bytes at `src` to the answer.
  (func $emit (param $src i32) (param $len i32)
    (if (i32.eqz (call $reserve (i32.add (global.get $out) (local.get $len))))
      (then (global.set $oom (i32.const 1)) (return)))
    (memory.copy (global.get $out) (local.get $src) (local.get $len))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  (func $strlen (param $s i32) (result i32)
    (local $p i32)
    (local.set $p (local.get $s))
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (i32.sub (local.get $p) (local.get $s)))

  (func $emit_z (param $s i32) (call $emit (local.get $s) (call $strlen (local.get $s))))

  (func $emit_byte (param $b i32)
    (if (i32.eqz (call $reserve (i32.add (global.get $out) (i32.const 1))))
      (then (global.set $oom (i32.const 1)) (return)))
    (i32.store8 (global.get $out) (local.get $b))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))

  ;; The byte at `p`, or -1 at the end of the body.
  (func $at (param $p i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $p) (global.get $end))
      (then (i32.load8_u (local.get $p)))
      (else (i32.const -1))))

  ;; `p` past spaces, tabs and line ends.
  (func $ws (param $p i32) (result i32)
    (local $c i32)
    (block $done (loop $next
      (local.set $c (call $at (local.get $p)))
      (br_if $done (i32.eqz (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32))
                                            (i32.eq (local.get $c) (i32.const 9)))
                                    (i32.or (i32.eq (local.get $c) (i32.const 10))
                                            (i32.eq (local.get $c) (i32.const 13))))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (local.get $p))

  ;; Past the string starting at `p` (a '"'), or -1.
  (func $skip_string (param $p i32) (result i32)
    (local $c i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (local.set $c (call $at (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const -1)) (then (return (i32.const -1))))
      (if (i32.lt_u (local.get $c) (i32.const 32)) (then (return (i32.const -1))))
      (if (i32.eq (local.get $c) (i32.const 34)) ;; '"'
        (then (return (i32.add (local.get $p) (i32.const 1)))))
      (if (i32.eq (local.get $c) (i32.const 92)) ;; '\\': skip the escaped byte
        (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next))
    (i32.const -1))

  ;; Past the bytes of a number or a literal (true, false, null) at `p`, or -1 if
  ;; there are none.
  (func $skip_word (param $p i32) (result i32)
    (local $start i32) (local $c i32)
    (local.set $start (local.get $p))
    (block $done (loop $next
      (local.set $c (call $at (local.get $p)))
      (br_if $done (i32.eqz (i32.or
        (i32.or (i32.and (i32.ge_u (local.get $c) (i32.const 48)) (i32.le_u (local.get $c) (i32.const 57)))
                (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122))))
        (i32.or (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.eq (local.get $c) (i32.const 43)))
                (i32.or (i32.eq (local.get $c) (i32.const 46)) (i32.eq (local.get $c) (i32.const 69)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (if (result i32) (i32.eq (local.get $p) (local.get $start))
      (then (i32.const -1))
      (else (local.get $p))))

  ;; Past the JSON value at `p`, or -1 if it is not one.
  (func $skip_value (param $p i32) (result i32)
    (local $c i32) (local $close i32)
    (local.set $c (call $at (local.get $p)))
    (if (i32.eq (local.get $c) (i32.const 34)) (then (return (call $skip_string (local.get $p)))))
    (if (i32.and (i32.ne (local.get $c) (i32.const 123)) (i32.ne (local.get $c) (i32.const 91)))
      (then (return (call $skip_word (local.get $p)))))
    ;; An object ('{' ... '}') or an array ('[' ... ']').
    (local.set $close (i32.add (local.get $c) (i32.const 2)))
    (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
    (if (i32.eq (call $at (local.get $p)) (local.get $close))
      (then (return (i32.add (local.get $p) (i32.const 1)))))
    (loop $member
      (if (i32.eq (local.get $c) (i32.const 123))
        (then
          (if (i32.ne (call $at (local.get $p)) (i32.const 34)) (then (return (i32.const -1))))
          (local.set $p (call $skip_string (local.get $p)))
          (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const -1))))
          (local.set $p (call $ws (local.get $p)))
          (if (i32.ne (call $at (local.get $p)) (i32.const 58)) (then (return (i32.const -1))))
          (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))))
      (local.set $p (call $skip_value (local.get $p)))
      (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const -1))))
      (local.set $p (call $ws (local.get $p)))
      (if (i32.eq (call $at (local.get $p)) (local.get $close))
        (then (return (i32.add (local.get $p) (i32.const 1)))))
      (if (i32.ne (call $at (local.get $p)) (i32.const 44)) (then (return (i32.const -1))))
      (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
      (br $member))
    (i32.const -1))

  ;; Whether the `len` bytes at `a` are the NUL-terminated string at `z`.
  (func $equals (param $a i32) (param $len i32) (param $z i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $len) (call $strlen (local.get $z))) (then (return (i32.const 0))))
    (block $done (loop $next
      (br_if $done (i32.eq (local.get $i) (local.get $len)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $z) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 1))

  ;; Writes the head of the head block's number, as a JSON quantity, from CHAIN_INFO:
  ;; its answer is an RLP list [status, [chain_id, head, ...]] (ABI.md section 10).
  ;; Returns 0 if the node did not answer as expected.
  (func $block_number (result i32)
    (local $len i32) (local $p i32) (local $n i64) (local $b i32) (local $i i32)
    (local.set $len (call $chain (i32.const 432) (i32.const 1)))
    ;; Read the answer past the one being written (which grows by 20 bytes at most
    ;; here, after the answer is parsed).
    (local.set $p (i32.add (global.get $out) (i32.const 64)))
    (if (i32.eqz (call $reserve (i32.add (local.get $p) (local.get $len))))
      (then (return (i32.const 0))))
    (call $chain_read (local.get $p))
    (if (i32.eqz (call $rlp_head_number (local.get $p) (local.get $len)))
      (then (return (i32.const 0))))
    (local.set $n (global.get $number))
    ;; "0x" and the hex digits, no leading zeros.
    (call $emit_byte (i32.const 34))
    (call $emit_byte (i32.const 48))
    (call $emit_byte (i32.const 120))
    (local.set $i (i32.const 60))
    (loop $skip
      (if (i32.and (i32.gt_s (local.get $i) (i32.const 0))
                   (i64.eqz (i64.shr_u (local.get $n) (i64.extend_i32_u (local.get $i)))))
        (then (local.set $i (i32.sub (local.get $i) (i32.const 4))) (br $skip))))
    (loop $digit
      (local.set $b (i32.wrap_i64 (i64.and (i64.shr_u (local.get $n) (i64.extend_i32_u (local.get $i)))
                                           (i64.const 15))))
      (call $emit_byte (i32.add (local.get $b)
        (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $b) (i32.const 10)))))
      (if (i32.gt_s (local.get $i) (i32.const 0))
        (then (local.set $i (i32.sub (local.get $i) (i32.const 4))) (br $digit))))
    (call $emit_byte (i32.const 34))
    (i32.const 1))

  (global $number (mut i64) (i64.const 0))
  (global $rlp_len (mut i32) (i32.const 0))

  ;; The payload of the RLP item at `p` (before `end`): sets $rlp_len to its length
  ;; and returns where it starts, or -1. Lists and strings alike.
  (func $rlp_item (param $p i32) (param $end i32) (result i32)
    (local $c i32) (local $n i32) (local $k i32)
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
    (local.set $c (i32.load8_u (local.get $p)))
    (if (i32.lt_u (local.get $c) (i32.const 0x80))
      (then (global.set $rlp_len (i32.const 1)) (return (local.get $p))))
    (if (i32.or (i32.lt_u (local.get $c) (i32.const 0xb8))
                (i32.and (i32.ge_u (local.get $c) (i32.const 0xc0)) (i32.lt_u (local.get $c) (i32.const 0xf8))))
      (then
        (global.set $rlp_len (i32.sub (local.get $c) (select (i32.const 0x80) (i32.const 0xc0)
                                                             (i32.lt_u (local.get $c) (i32.const 0xc0)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1))))
      (else
        ;; Long form: the length of the length, then the length.
        (local.set $k (i32.sub (local.get $c) (select (i32.const 0xb7) (i32.const 0xf7)
                                                      (i32.lt_u (local.get $c) (i32.const 0xc0)))))
        (if (i32.gt_u (local.get $k) (i32.const 4)) (then (return (i32.const -1))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.const 0))
        (block $done (loop $next
          (br_if $done (i32.eqz (local.get $k)))
          (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
          (local.set $n (i32.or (i32.shl (local.get $n) (i32.const 8)) (i32.load8_u (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $next)))
        (global.set $rlp_len (local.get $n))))
    (if (i32.gt_u (i32.add (local.get $p) (global.get $rlp_len)) (local.get $end))
      (then (return (i32.const -1))))
    (local.get $p))

  ;; Reads `head` out of a CHAIN_INFO answer: status byte 0, then the RLP list
  ;; [chain_id, head, gas_limit, next_base_fee, dev]. Sets $number; returns 0 if the
  ;; answer is not that.
  (func $rlp_head_number (param $p i32) (param $len i32) (result i32)
    (local $end i32) (local $q i32) (local $i i32) (local $n i64)
    (if (i32.lt_u (local.get $len) (i32.const 2)) (then (return (i32.const 0))))
    (if (i32.load8_u (local.get $p)) (then (return (i32.const 0))))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $p (call $rlp_item (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
    (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const 0))))
    (local.set $end (i32.add (local.get $p) (global.get $rlp_len)))
    (local.set $q (call $rlp_item (local.get $p) (local.get $end))) ;; chain_id
    (if (i32.eq (local.get $q) (i32.const -1)) (then (return (i32.const 0))))
    (local.set $p (i32.add (local.get $q) (global.get $rlp_len)))
    (local.set $q (call $rlp_item (local.get $p) (local.get $end))) ;; head
    (if (i32.eq (local.get $q) (i32.const -1)) (then (return (i32.const 0))))
    (if (i32.gt_u (global.get $rlp_len) (i32.const 8)) (then (return (i32.const 0))))
    ;; A single byte below 0x80 is its own payload.
    (block $done (loop $next
      (br_if $done (i32.eq (local.get $i) (global.get $rlp_len)))
      (local.set $n (i64.or (i64.shl (local.get $n) (i64.const 8))
                            (i64.load8_u (i32.add (local.get $q) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (global.set $number (local.get $n))
    (i32.const 1))

  ;; Answers the request object at `p` (valid JSON, checked before).
  (func $answer (param $p i32)
    (local $id i32) (local $id_end i32) (local $m i32) (local $m_end i32)
    (local $key i32) (local $key_end i32) (local $v i32) (local $v_end i32)
    (local.set $id (i32.const 384))
    (local.set $id_end (i32.const 388))
    (if (i32.ne (call $at (local.get $p)) (i32.const 123))
      (then
        (call $emit_z (i32.const 64))
        (call $emit_z (i32.const 384))
        (call $emit_z (i32.const 176))
        (return)))
    (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
    (block $done (loop $member
      (br_if $done (i32.ne (call $at (local.get $p)) (i32.const 34)))
      (local.set $key (local.get $p))
      (local.set $key_end (call $skip_string (local.get $p)))
      (local.set $v (call $ws (i32.add (call $ws (local.get $key_end)) (i32.const 1))))
      (local.set $v_end (call $skip_value (local.get $v)))
      (if (call $equals (i32.add (local.get $key) (i32.const 1))
                        (i32.sub (local.get $key_end) (i32.add (local.get $key) (i32.const 2)))
                        (i32.const 390))
        (then (local.set $id (local.get $v)) (local.set $id_end (local.get $v_end))))
      (if (call $equals (i32.add (local.get $key) (i32.const 1))
                        (i32.sub (local.get $key_end) (i32.add (local.get $key) (i32.const 2)))
                        (i32.const 393))
        (then (local.set $m (local.get $v)) (local.set $m_end (local.get $v_end))))
      (local.set $p (call $ws (local.get $v_end)))
      (br_if $done (i32.ne (call $at (local.get $p)) (i32.const 44)))
      (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
      (br $member)))
    (call $emit_z (i32.const 64))
    (call $emit (local.get $id) (i32.sub (local.get $id_end) (local.get $id)))
    ;; No method, or one that is not a string.
    (if (i32.or (i32.eqz (local.get $m)) (i32.ne (call $at (local.get $m)) (i32.const 34)))
      (then (call $emit_z (i32.const 176)) (return)))
    (local.set $m (i32.add (local.get $m) (i32.const 1)))
    (local.set $m_end (i32.sub (local.get $m_end) (i32.const 1)))
    (if (call $equals (local.get $m) (i32.sub (local.get $m_end) (local.get $m)) (i32.const 16))
      (then
        (call $emit_z (i32.const 96))
        (call $emit_z (i32.const 1024))
        (call $emit_byte (i32.const 125))
        (return)))
    (if (call $equals (local.get $m) (i32.sub (local.get $m_end) (local.get $m)) (i32.const 48))
      (then
        (call $emit_z (i32.const 96))
        (if (i32.eqz (call $block_number))
          (then
            ;; Take back ',"result":' and say the node did not answer.
            (global.set $out (i32.sub (global.get $out) (i32.const 10)))
            (call $emit_z (i32.const 304))
            (return)))
        (call $emit_byte (i32.const 125))
        (return)))
    (call $emit_z (i32.const 112)))

  ;; Key names compared in $answer.
  (data (i32.const 390) "id\00")
  (data (i32.const 393) "method\00")

  ;; ABI section 4: the rpc kind's entry point.
  (func (export "molt_rpc_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $start i32) (local $p i32) (local $first i32)
    (global.set $end (i32.add (local.get $ptr) (local.get $len)))
    ;; The answer goes after everything allocated so far.
    (global.set $out (global.get $heap))
    (local.set $start (global.get $out))
    (call $emit_byte (i32.const 0)) ;; status: success
    (local.set $p (call $ws (local.get $ptr)))
    (block $answered
      ;; The whole body must be one JSON value.
      (if (i32.or (i32.eq (call $skip_value (local.get $p)) (i32.const -1))
                  (i32.ne (call $ws (call $skip_value (local.get $p))) (global.get $end)))
        (then
          (call $emit_z (i32.const 64))
          (call $emit_z (i32.const 384))
          (call $emit_z (i32.const 240))
          (br $answered)))
      (if (i32.ne (call $at (local.get $p)) (i32.const 91))
        (then (call $answer (local.get $p)) (br $answered)))
      ;; A batch: an answer per element; an empty batch is an invalid request.
      (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
      (if (i32.eq (call $at (local.get $p)) (i32.const 93))
        (then
          (call $emit_z (i32.const 64))
          (call $emit_z (i32.const 384))
          (call $emit_z (i32.const 176))
          (br $answered)))
      (call $emit_byte (i32.const 91))
      (local.set $first (i32.const 1))
      (loop $element
        (if (i32.eqz (local.get $first)) (then (call $emit_byte (i32.const 44))))
        (local.set $first (i32.const 0))
        (call $answer (local.get $p))
        (local.set $p (call $ws (call $skip_value (local.get $p))))
        (if (i32.eq (call $at (local.get $p)) (i32.const 44))
          (then (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1)))) (br $element))))
      (call $emit_byte (i32.const 93)))
    (if (global.get $oom)
      (then (return (i64.or (i64.shl (i64.const 400) (i64.const 32)) (i64.const 14)))))
    (global.set $heap (global.get $out))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $start)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (global.get $out) (local.get $start)))))
)
