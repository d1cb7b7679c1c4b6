// examples/assemblyscript-rpc — an `rpc` guest in AssemblyScript, written from
// abi/ABI.md alone.
//
// It answers `web3_clientVersion` itself and `eth_chainId` / `eth_blockNumber` from the
// node's CHAIN_INFO query (ABI.md §10, op 0); any other method gets JSON-RPC's -32601.
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

/** The string value of member `key` of the JSON object `body`, or null. */
function stringMember(body: string, key: string): string | null {
  const at = body.indexOf('"' + key + '"');
  if (at < 0) return null;
  const colon = body.indexOf(":", at + key.length + 2);
  const open = body.indexOf('"', colon);
  if (colon < 0 || open < 0) return null;
  const close = body.indexOf('"', open + 1);
  return close < 0 ? null : body.substring(open + 1, close);
}

/** The raw value of member `id` (a number, a string or null). */
function idOf(body: string): string {
  const at = body.indexOf('"id"');
  if (at < 0) return "null";
  let start = body.indexOf(":", at + 4) + 1;
  while (start < body.length && body.charAt(start) == " ") start++;
  let end = start;
  if (body.charAt(start) == '"') {
    end = body.indexOf('"', start + 1) + 1;
  } else {
    while (end < body.length && body.charAt(end) != "," && body.charAt(end) != "}") end++;
  }
  return end > start ? body.substring(start, end) : "null";
}

function quantity(value: u64): string {
  return '"0x' + value.toString(16) + '"';
}

// ABI §4: the rpc entry point — a JSON-RPC request body in, the response body out.
export function molt_rpc_handle(ptr: usize, len: i32): i64 {
  const body = String.UTF8.decodeUnsafe(ptr, <usize>len);
  const method = stringMember(body, "method");
  const head = '{"jsonrpc":"2.0","id":' + idOf(body) + ",";
  let result: string;
  if (method == null) {
    result = '"error":{"code":-32600,"message":"method must be a string"}';
  } else if (method == "web3_clientVersion") {
    result = '"result":"as-rpc/0.1.0"';
  } else if (method == "eth_chainId") {
    result = '"result":' + quantity(chainInfo(0));
  } else if (method == "eth_blockNumber") {
    result = '"result":' + quantity(chainInfo(1));
  } else {
    result = '"error":{"code":-32601,"message":"the method does not exist/is not available"}';
  }
  return answer(0, head + result + "}");
}
