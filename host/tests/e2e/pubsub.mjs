// WebSocket subscriptions and HTTP filters as real clients use them: a raw socket
// (requests, a batch, eth_subscribe/eth_unsubscribe), ethers v6's WebSocketProvider
// (contract.on, "block", "pending"), viem's webSocket transport (watchBlockNumber,
// watchContractEvent, watchPendingTransactions), viem's filters over HTTP
// (createEventFilter, createBlockFilter, createPendingTransactionFilter,
// getFilterChanges, getFilterLogs, uninstallFilter) and ethers' polling JsonRpcProvider
// (contract.on and "pending" through eth_newFilter and friends).
// Usage: node pubsub.mjs RPC_URL. Exits non-zero on the first surprise.
import assert from "node:assert/strict";
import { ethers } from "ethers";
import {
  createPublicClient,
  createWalletClient,
  http,
  pad,
  parseAbiItem,
  toHex,
  webSocket,
} from "viem";
import { foundry } from "viem/chains";
import WebSocket from "ws";

const url = process.argv[2];
const wsUrl = url.replace(/^http/, "ws");
const ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const STORED = parseAbiItem("event Stored(uint256 value)");
// Emits Stored(first calldata word).
const TOPIC = ethers.id("Stored(uint256)").slice(2);
const RUNTIME = "6000356000527f" + TOPIC + "60206000a100";
const INIT = "0x602d80600b6000396000f3" + RUNTIME;

const within = (ms, what, promise) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
const word = (n) => pad(toHex(n), { size: 32 });

const client = createPublicClient({ chain: foundry, transport: http(url) });
const wallet = createWalletClient({ chain: foundry, transport: http(url), account: ACCOUNT0 });
const mined = async (hash) => {
  const r = await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  assert.equal(r.status, "success");
  return r;
};
const deployed = await mined(await wallet.sendTransaction({ data: INIT, gas: 200000n }));
const emitter = deployed.contractAddress;
const store = async (n) => wallet.sendTransaction({ to: emitter, data: word(n), gas: 100000n });

// --- A raw socket. ---
const socket = new WebSocket(wsUrl);
await within(5000, "socket open", new Promise((ok, fail) => {
  socket.once("open", ok);
  socket.once("error", fail);
}));
const answers = new Map();
const notes = [];
let nextId = 1;
socket.on("message", (data) => {
  const m = JSON.parse(data.toString());
  if (Array.isArray(m)) answers.get("batch")?.(m);
  else if (m.method === "eth_subscription") notes.push(m.params);
  else answers.get(m.id)?.(m);
});
const ask = (method, params = []) => {
  const id = nextId++;
  return within(5000, method, new Promise((ok) => {
    answers.set(id, ok);
    socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  }));
};
const noted = (what, test) =>
  within(10000, what, (async () => {
    for (;;) {
      const i = notes.findIndex(test);
      if (i >= 0) return notes.splice(i, 1)[0];
      await new Promise((r) => setTimeout(r, 10));
    }
  })());

assert.equal((await ask("eth_chainId")).result, "0x7a69");
const batch = await within(5000, "batch", new Promise((ok) => {
  answers.set("batch", ok);
  socket.send(JSON.stringify([
    { jsonrpc: "2.0", id: 100, method: "eth_chainId", params: [] },
    { jsonrpc: "2.0", id: 101, method: "net_version", params: [] },
  ]));
}));
assert.deepEqual(batch.map((r) => r.result).sort(), ["0x7a69", "31337"]);
const heads = (await ask("eth_subscribe", ["newHeads"])).result;
const logs = (await ask("eth_subscribe", ["logs", { address: emitter, topics: ["0x" + TOPIC] }]))
  .result;
const otherLogs = (await ask("eth_subscribe", ["logs", { address: ACCOUNT0 }])).result;
const pending = (await ask("eth_subscribe", ["newPendingTransactions"])).result;
const full = (await ask("eth_subscribe", ["newPendingTransactions", true])).result;
assert.equal(new Set([heads, logs, otherLogs, pending, full]).size, 5);
assert.ok((await ask("eth_subscribe", ["nonsense"])).error);
assert.ok((await ask("eth_subscribe", ["logs", { address: "0x12" }])).error);

const hash = await store(5);
const receipt = await mined(hash);
const head = await noted("newHeads", (n) => n.subscription === heads &&
  BigInt(n.result.number) === receipt.blockNumber);
assert.equal(head.result.hash, receipt.blockHash);
assert.ok(head.result.stateRoot && head.result.parentHash && head.result.logsBloom);
const log = await noted("logs", (n) => n.subscription === logs);
assert.equal(log.result.transactionHash, hash);
assert.equal(BigInt(log.result.data), 5n);
assert.equal(log.result.address.toLowerCase(), emitter.toLowerCase());
assert.equal((await noted("pending hash", (n) => n.subscription === pending)).result, hash);
const tx = await noted("pending tx", (n) => n.subscription === full);
assert.equal(tx.result.hash, hash);
assert.equal(tx.result.from.toLowerCase(), ACCOUNT0.toLowerCase());
assert.ok(!notes.some((n) => n.subscription === otherLogs), "a log that does not match");
assert.equal((await ask("eth_unsubscribe", [heads])).result, true);
assert.equal((await ask("eth_unsubscribe", [heads])).result, false);
await mined(await store(6));
await new Promise((r) => setTimeout(r, 200));
assert.ok(!notes.some((n) => n.subscription === heads), "notified after eth_unsubscribe");
socket.close();

// --- ethers v6 over WebSocket. ---
const wsProvider = new ethers.WebSocketProvider(wsUrl);
const contract = new ethers.Contract(emitter, ["event Stored(uint256 value)"], wsProvider);
const gotEvent = new Promise((ok) => contract.on("Stored", (value) => value === 7n && ok(value)));
const gotPending = new Promise((ok) => wsProvider.on("pending", ok));
const gotBlock = new Promise((ok) => wsProvider.on("block", ok));
// Let the subscriptions reach the node.
await new Promise((r) => setTimeout(r, 300));
const sevenHash = await store(7);
const seven = await mined(sevenHash);
assert.equal(await within(10000, "ethers contract.on", gotEvent), 7n);
assert.equal(await within(10000, "ethers pending", gotPending), sevenHash);
assert.ok(BigInt(await within(10000, "ethers block", gotBlock)) <= seven.blockNumber);
await wsProvider.destroy();

// --- viem over WebSocket. ---
const wsClient = createPublicClient({ chain: foundry, transport: webSocket(wsUrl) });
const viemLogs = [];
const viemBlocks = [];
const viemPending = [];
const unwatch = [
  wsClient.watchContractEvent({
    address: emitter,
    abi: [STORED],
    eventName: "Stored",
    onLogs: (l) => viemLogs.push(...l),
  }),
  wsClient.watchBlockNumber({ onBlockNumber: (n) => viemBlocks.push(n) }),
  wsClient.watchPendingTransactions({ onTransactions: (h) => viemPending.push(...h) }),
];
await new Promise((r) => setTimeout(r, 300));
const eightHash = await store(8);
const eight = await mined(eightHash);
await within(10000, "viem watchers", (async () => {
  while (!(viemLogs.some((l) => l.args.value === 8n) && viemBlocks.includes(eight.blockNumber) &&
    viemPending.includes(eightHash))) {
    await new Promise((r) => setTimeout(r, 20));
  }
})());
unwatch.forEach((u) => u());
await wsClient.transport.getRpcClient().then((c) => c.close());

// --- Filters over HTTP (viem). ---
const eventFilter = await client.createEventFilter({
  address: emitter,
  event: STORED,
  fromBlock: deployed.blockNumber,
});
const blockFilter = await client.createBlockFilter();
const pendingFilter = await client.createPendingTransactionFilter();
// A fromBlock in the past: the first poll reports the logs since then (as anvil
// and reth do), later polls only new ones.
const since = await client.getFilterChanges({ filter: eventFilter });
assert.deepEqual(since.map((l) => l.args.value), [5n, 6n, 7n, 8n]);
assert.deepEqual(await client.getFilterChanges({ filter: eventFilter }), []);
const nineHash = await store(9);
const nine = await mined(nineHash);
const changes = await client.getFilterChanges({ filter: eventFilter });
assert.deepEqual(changes.map((l) => l.args.value), [9n]);
assert.deepEqual(await client.getFilterChanges({ filter: eventFilter }), []);
assert.ok((await client.getFilterChanges({ filter: blockFilter })).includes(nine.blockHash));
assert.deepEqual(await client.getFilterChanges({ filter: pendingFilter }), [nineHash]);
const all = await client.getFilterLogs({ filter: eventFilter });
assert.deepEqual(all.map((l) => l.args.value), [5n, 6n, 7n, 8n, 9n]);
assert.equal(await client.uninstallFilter({ filter: eventFilter }), true);
assert.equal(await client.uninstallFilter({ filter: eventFilter }), false);
await assert.rejects(client.getFilterChanges({ filter: eventFilter }), /filter not found/);

// --- ethers' polling provider: eth_newFilter and eth_newPendingTransactionFilter. ---
const polling = new ethers.JsonRpcProvider(url, undefined, { polling: true, pollingInterval: 50 });
polling.pollingInterval = 50;
const polled = new ethers.Contract(emitter, ["event Stored(uint256 value)"], polling);
const polledEvent = new Promise((ok) => polled.on("Stored", (value) => value === 10n && ok(value)));
const polledHashes = [];
polling.on("pending", (h) => polledHashes.push(h));
await new Promise((r) => setTimeout(r, 300));
const tenHash = await store(10);
await mined(tenHash);
assert.equal(await within(10000, "ethers polling contract.on", polledEvent), 10n);
await within(10000, "ethers polling pending", (async () => {
  while (!polledHashes.includes(tenHash)) await new Promise((r) => setTimeout(r, 20));
})());
polling.destroy();

console.log("pubsub ok");
process.exit(0);
