// State at past blocks and state overrides through viem and ethers v6: viem's call
// with stateOverride (code, balance, stateDiff) and blockOverrides, getBalance and
// call at a blockNumber; ethers' staticCall and getBalance with a blockTag.
// Usage: node history.mjs RPC_URL. Exits non-zero on the first surprise.
import assert from "node:assert/strict";
import { ethers } from "ethers";
import { createPublicClient, createWalletClient, http, pad, toHex } from "viem";
import { foundry } from "viem/chains";

const url = process.argv[2];
const ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
// Returns slot 0 when called with less than a word of data (none, or a selector),
// stores its first calldata word in slot 0 otherwise; and the init code deploying it.
const RUNTIME = "0x601f361160125760005460005260206000f35b60003560005500";
const INIT = "0x601a80600b6000396000f3" + RUNTIME.slice(2);
const SELFBALANCE = "0x4760005260206000f3";
const NUMBER = "0x4360005260206000f3";
const fresh = "0x00000000000000000000000000000000000000d2";

const client = createPublicClient({ chain: foundry, transport: http(url) });
const wallet = createWalletClient({ chain: foundry, transport: http(url), account: ACCOUNT0 });
const mined = async (hash) => {
  const r = await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  assert.equal(r.status, "success");
  return r;
};

// viem: state overrides.
const word = (n) => pad(toHex(n), { size: 32 });
let { data } = await client.call({
  to: fresh,
  stateOverride: [{ address: fresh, code: SELFBALANCE, balance: 0x1234n }],
});
assert.equal(BigInt(data), 0x1234n);
({ data } = await client.call({
  to: fresh,
  stateOverride: [{ address: fresh, code: RUNTIME, stateDiff: [{ slot: word(0), value: word(5) }] }],
}));
assert.equal(BigInt(data), 5n);
({ data } = await client.call({
  to: fresh,
  stateOverride: [{ address: fresh, code: NUMBER }],
  blockOverrides: { number: 0x99n },
}));
assert.equal(BigInt(data), 0x99n);

// A contract whose slot 0 changes block by block.
const deployed = await mined(await wallet.sendTransaction({ data: INIT, gas: 200000n }));
const contract = deployed.contractAddress;
const set = async (n) => mined(await wallet.sendTransaction({ to: contract, data: word(n), gas: 100000n }));
const first = await set(11);
await set(12);

// viem at a blockNumber.
({ data } = await client.call({ to: contract, blockNumber: first.blockNumber }));
assert.equal(BigInt(data), 11n);
({ data } = await client.call({ to: contract }));
assert.equal(BigInt(data), 12n);
const to = "0x00000000000000000000000000000000000000d3";
const paid = await mined(await wallet.sendTransaction({ to, value: 42n }));
assert.equal(await client.getBalance({ address: to, blockNumber: paid.blockNumber - 1n }), 0n);
assert.equal(await client.getBalance({ address: to, blockNumber: paid.blockNumber }), 42n);
const code = await client.getCode({ address: contract, blockNumber: deployed.blockNumber - 1n });
assert.equal(code ?? "0x", "0x");

// ethers with a blockTag.
const provider = new ethers.JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
const reader = new ethers.Contract(contract, ["function get() view returns (uint256)"], provider);
assert.equal(
  BigInt(await provider.call({ to: contract, blockTag: Number(first.blockNumber) })),
  11n,
);
assert.equal(await reader.get.staticCall({ blockTag: Number(first.blockNumber) }), 11n);
assert.equal(await reader.get.staticCall(), 12n);
assert.equal(await provider.getBalance(to, Number(paid.blockNumber) - 1), 0n);
assert.equal(await provider.getStorage(contract, 0, Number(first.blockNumber)), word(11));

console.log(JSON.stringify({ ok: true }));
