// examples/assemblyscript-rpc — an `rpc` guest in AssemblyScript, written from
// abi/ABI.md alone.
//
// It answers `web3_clientVersion` itself and `eth_chainId` / `eth_blockNumber` from the
// node's CHAIN_INFO query (ABI.md §10, op 0); any other method gets JSON-RPC's -32601;
// a batch gets an array of answers, a body that is not JSON -32700.
//
// Build (see package.json): `npm ci && npm run build`. The flags matter:
//   --runtime stub            a bump allocator: every call gets a fresh instance (§1)
//   --use abort=              no `env.abort` import (only `molt` and WASI may be imported, §5)
//   --exportStart _initialize a WASI reactor: the host calls `_initialize` first (§1)

// ABI §5: the chain queries.
@external("molt", "chain")
declare function chain(ptr: usize, len: i32): i32;
@external("molt", "chain_read")
declare function chain_read(out: usize): void;

// ABI §2.
export function molt_abi_version(): i32 {
  return 1;
}

export function molt_alloc(len: i32): usize {
  return heap.alloc(<usize>max(len, 1));
}

export function molt_free(ptr: usize, len: i32): void {
  heap.free(ptr);
}

/** The output region (ABI §3): status byte, then `text` as UTF-8, as `(ptr << 32) | len`. */
function answer(status: u8, text: string): i64 {
  const bytes = String.UTF8.encode(text);
  const n = bytes.byteLength;
  const out = heap.alloc(<usize>n + 1);
  store<u8>(out, status);
  memory.copy(out + 1, changetype<usize>(bytes), <usize>n);
  return (<i64>out << 32) | <i64>(n + 1);
}

/** Field `index` of CHAIN_INFO's result `[chain_id, head, gas_limit, next_base_fee, dev]`. */
function chainInfo(index: i32): u64 {
  const request = heap.alloc(2);
  store<u8>(request, 0); // op 0
  store<u8>(request + 1, 0xc0); // arguments: the empty RLP list
  const len = chain(request, 2);
  if (len < 2) throw new Error("empty answer");
  const response = heap.alloc(<usize>len);
  chain_read(response);
  if (load<u8>(response) != 0) throw new Error("refused");
  // The result is a short RLP list of integers: skip its header, then read items.
  let p = response + 1;
  const end = response + <usize>len;
  const head = load<u8>(p);
  p += head >= 0xf8 ? 1 + <usize>(head - 0xf7) : 1;
  for (let i = 0; p < end; i++) {
    const b = load<u8>(p);
    let value: u64 = 0;
    let size: usize = 0;
    if (b < 0x80) {
      value = b;
      p += 1;
    } else if (b <= 0xb7) {
      size = <usize>(b - 0x80);
      p += 1;
      for (let k: usize = 0; k < size; k++) value = (value << 8) | load<u8>(p + k);
      p += size;
    } else {
      throw new Error("malformed CHAIN_INFO");
    }
    if (i == index) return value;
  }
  throw new Error("malformed CHAIN_INFO");
}

function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function skipSpace(body: string, i: i32, end: i32): i32 {
  while (i < end && isSpace(body.charCodeAt(i))) i++;
  return i;
}

/** The end of the JSON value at `i` (strings, numbers, literals, objects, arrays,
 *  checked), or -1 if there is none before `end`. */
function valueEnd(body: string, i: i32, end: i32): i32 {
  if (i >= end) return -1;
  const c = body.charCodeAt(i);
  if (c == 0x22) {
    for (i++; i < end; i++) {
      const d = body.charCodeAt(i);
      if (d < 0x20) return -1;
      if (d == 0x5c) i++;
      else if (d == 0x22) return i + 1;
    }
    return -1;
  }
  if (c == 0x7b || c == 0x5b) {
    const object = c == 0x7b;
    const close = c + 2; // '}' or ']'
    i = skipSpace(body, i + 1, end);
    if (i < end && body.charCodeAt(i) == close) return i + 1;
    while (true) {
      if (object) {
        if (i >= end || body.charCodeAt(i) != 0x22) return -1;
        i = valueEnd(body, i, end);
        if (i < 0) return -1;
        i = skipSpace(body, i, end);
        if (i >= end || body.charCodeAt(i) != 0x3a) return -1;
        i = skipSpace(body, i + 1, end);
      }
      i = valueEnd(body, i, end);
      if (i < 0) return -1;
      i = skipSpace(body, i, end);
      if (i < end && body.charCodeAt(i) == close) return i + 1;
      if (i >= end || body.charCodeAt(i) != 0x2c) return -1;
      i = skipSpace(body, i + 1, end);
    }
  }
  const start = i;
  while (i < end) {
    const d = body.charCodeAt(i);
    const word = (d >= 0x30 && d <= 0x39) || (d >= 0x61 && d <= 0x7a) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x45;
    if (!word) break;
    i++;
  }
  return i == start ? -1 : i;
}

/** The raw value of member `key` of the object at [start, end) (valid JSON), or null. */
function member(body: string, start: i32, end: i32, key: string): string | null {
  let i = skipSpace(body, start + 1, end);
  while (i < end && body.charCodeAt(i) == 0x22) {
    const keyEnd = valueEnd(body, i, end);
    const name = body.substring(i + 1, keyEnd - 1);
    const v = skipSpace(body, skipSpace(body, keyEnd, end) + 1, end);
    const vEnd = valueEnd(body, v, end);
    if (name == key) return body.substring(v, vEnd);
    i = skipSpace(body, vEnd, end);
    if (i >= end || body.charCodeAt(i) != 0x2c) break;
    i = skipSpace(body, i + 1, end);
  }
  return null;
}

function quantity(value: u64): string {
  return '"0x' + value.toString(16) + '"';
}

const NO_ID = '{"jsonrpc":"2.0","id":null,';

/** The answer to the request at [start, end) (one valid JSON value). */
function one(body: string, start: i32, end: i32): string {
  if (body.charCodeAt(start) != 0x7b) {
    return NO_ID + '"error":{"code":-32600,"message":"invalid request: not an object"}}';
  }
  const id = member(body, start, end, "id");
  const raw = member(body, start, end, "method");
  const head = '{"jsonrpc":"2.0","id":' + (id == null ? "null" : id) + ",";
  let result: string;
  if (raw == null || raw.charCodeAt(0) != 0x22) {
    result = '"error":{"code":-32600,"message":"invalid request: method must be a string"}';
  } else {
    const method = raw.substring(1, raw.length - 1);
    if (method == "web3_clientVersion") {
      result = '"result":"as-rpc/0.1.0"';
    } else if (method == "eth_chainId") {
      result = '"result":' + quantity(chainInfo(0));
    } else if (method == "eth_blockNumber") {
      result = '"result":' + quantity(chainInfo(1));
    } else {
      result = '"error":{"code":-32601,"message":"the method does not exist/is not available"}';
    }
  }
  return head + result + "}";
}

// ABI §4: the rpc entry point — a JSON-RPC body (a request or a batch) in, the answer
// out. A body that is not JSON gets -32700; a batch, an array of answers.
export function molt_rpc_handle(ptr: usize, len: i32): i64 {
  const body = String.UTF8.decodeUnsafe(ptr, <usize>len);
  const end = body.length;
  const start = skipSpace(body, 0, end);
  const stop = valueEnd(body, start, end);
  if (stop < 0 || skipSpace(body, stop, end) != end) {
    return answer(0, NO_ID + '"error":{"code":-32700,"message":"parse error"}}');
  }
  if (body.charCodeAt(start) != 0x5b) return answer(0, one(body, start, stop));
  let i = skipSpace(body, start + 1, stop);
  if (body.charCodeAt(i) == 0x5d) {
    return answer(0, NO_ID + '"error":{"code":-32600,"message":"empty batch"}}');
  }
  const answers = new Array<string>();
  while (body.charCodeAt(i) != 0x5d) {
    const e = valueEnd(body, i, stop);
    answers.push(one(body, i, e));
    i = skipSpace(body, e, stop);
    if (body.charCodeAt(i) == 0x2c) i = skipSpace(body, i + 1, stop);
  }
  return answer(0, "[" + answers.join(",") + "]");
}
