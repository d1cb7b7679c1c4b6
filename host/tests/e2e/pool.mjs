// The pool as tools inspect it, on a node that seals blocks only when asked
// (--block-time long): txpool_status, txpool_content and txpool_inspect with a pending
// and a queued (nonce gap) transaction, eth_getTransactionBySenderAndNonce from the
// pool and after mining, and eth_coinbase, eth_mining, eth_hashrate,
// eth_getUncleByBlockNumberAndIndex. Usage: node pool.mjs RPC_URL [molt].
import assert from "node:assert/strict";
import { ethers } from "ethers";

const url = process.argv[2];
const ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true });
const rpc = (method, params = []) => provider.send(method, params);
const to = "0x00000000000000000000000000000000000000f1";

// One pending transaction (account 0, next nonce) and one queued (account 1, a gap).
const nonce0 = await provider.getTransactionCount(ACCOUNT0);
const pending = await rpc("eth_sendTransaction", [{ from: ACCOUNT0, to, value: "0x1", gas: "0x5208" }]);
const key1 = new ethers.Wallet(KEY1, provider);
const nonce1 = await provider.getTransactionCount(key1.address);
const queuedRaw = await key1.signTransaction({
  to, value: 2n, gasLimit: 21000n, nonce: nonce1 + 5, chainId: 31337n,
  maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n,
});
const queued = await rpc("eth_sendRawTransaction", [queuedRaw]);

assert.deepEqual(await rpc("txpool_status"), { pending: "0x1", queued: "0x1" });
// Sender keys: geth writes them checksummed, anvil in lower case.
const bySenderKey = (pool) =>
  Object.fromEntries(Object.entries(pool).map(([k, v]) => [ethers.getAddress(k), v]));
const lower = (o) => ({ pending: bySenderKey(o.pending), queued: bySenderKey(o.queued) });
const content = lower(await rpc("txpool_content"));
assert.equal(content.pending[ACCOUNT0][String(nonce0)].hash, pending);
assert.equal(content.queued[key1.address][String(nonce1 + 5)].hash, queued);
const inspect = lower(await rpc("txpool_inspect"));
assert.match(inspect.pending[ACCOUNT0][String(nonce0)], new RegExp(`^${to}: 1 wei \\+ 21000 gas × \\d+ wei$`, "i"));
assert.match(inspect.queued[key1.address][String(nonce1 + 5)], /: 2 wei \+ 21000 gas × 10000000000 wei$/);

// By sender and nonce: from the pool, then from the block that mined it.
const bySender = () => rpc("eth_getTransactionBySenderAndNonce", [ACCOUNT0, ethers.toQuantity(nonce0)]);
assert.equal((await bySender()).hash, pending);
await rpc("evm_mine");
const mined = await bySender();
assert.equal(mined.hash, pending);
assert.equal(BigInt(mined.blockNumber), BigInt(await provider.getBlockNumber()));
assert.equal(await rpc("eth_getTransactionBySenderAndNonce", [ACCOUNT0, ethers.toQuantity(nonce0 + 100)]), null);
assert.deepEqual(await rpc("txpool_status"), { pending: "0x0", queued: "0x1" });

assert.ok(ethers.isAddress(await rpc("eth_coinbase")));
if (process.argv[3] === "molt") {
  // anvil 1.7 does not serve these two.
  assert.equal(await rpc("eth_mining"), true);
  assert.equal(await rpc("eth_hashrate"), "0x0");
}
assert.equal(await rpc("eth_getUncleByBlockNumberAndIndex", ["latest", "0x0"]), null);

console.log("pool ok");
process.exit(0);
