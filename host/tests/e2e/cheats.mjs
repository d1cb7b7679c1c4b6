// The dev node's controls as test suites use them: evm_increaseTime,
// evm_setNextBlockTimestamp, anvil_setNextBlockBaseFeePerGas, anvil_setCoinbase, evm_setAutomine,
// anvil_setIntervalMining, anvil_dropTransaction, anvil_dropAllTransactions,
// anvil_setNonce, anvil_setCode, anvil_setStorageAt, anvil_impersonateAccount (and its hardhat_ alias,
// anvil_stopImpersonatingAccount, anvil_autoImpersonateAccount), and evm_revert undoing
// them. Usage: node cheats.mjs RPC_URL [molt].
import assert from "node:assert/strict";
import { ethers } from "ethers";

const url = process.argv[2];
const molt = process.argv[3] === "molt";
const ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true });
const rpc = (method, params = []) => provider.send(method, params);
const latest = () => rpc("eth_getBlockByNumber", ["latest", false]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const to = "0x00000000000000000000000000000000000000c7";
const receipt = async (hash, what) => {
  for (let i = 0; i < 200; i++) {
    const r = await rpc("eth_getTransactionReceipt", [hash]);
    if (r) return r;
    await sleep(50);
  }
  throw new Error(`not mined in 10 s: ${what}`);
};
const send = () => rpc("eth_sendTransaction", [{ from: ACCOUNT0, to, value: "0x1", gas: "0x5208" }]);

// The clock.
const t0 = Number((await latest()).timestamp);
assert.ok((await rpc("evm_increaseTime", [3600])) >= 3600);
await rpc("evm_mine");
const t1 = Number((await latest()).timestamp);
assert.ok(t1 >= t0 + 3600, `${t1} after ${t0} + 3600`);
await rpc("evm_setNextBlockTimestamp", [t1 + 100000]);
await rpc("evm_mine");
assert.equal(Number((await latest()).timestamp), t1 + 100000);
await assert.rejects(rpc("evm_setNextBlockTimestamp", [1]));

// The coinbase.
const coinbase = "0x00000000000000000000000000000000000000cb";
await rpc("anvil_setCoinbase", [coinbase]);
await rpc("evm_mine");
assert.equal((await latest()).miner.toLowerCase(), coinbase);

// Automine off: a transaction waits for evm_mine, or is dropped.
await rpc("evm_setAutomine", [false]);
const waiting = await send();
await sleep(300);
assert.equal(await rpc("eth_getTransactionReceipt", [waiting]), null);
assert.equal((await rpc("txpool_status")).pending, "0x1");
assert.equal(await rpc("anvil_dropTransaction", [waiting]), waiting);
assert.equal(await rpc("anvil_dropTransaction", [waiting]), null);
assert.equal(await rpc("eth_getTransactionByHash", [waiting]), null);
await send();
await rpc("anvil_dropAllTransactions");
assert.equal((await rpc("txpool_status")).pending, "0x0");
const mined = await send();
await rpc("evm_mine");
assert.equal((await rpc("eth_getTransactionReceipt", [mined])).status, "0x1");

// Interval mining: blocks without transactions, then back to on demand.
const before = await provider.getBlockNumber();
await rpc("anvil_setIntervalMining", [1]);
await sleep(2600);
assert.ok((await provider.getBlockNumber()) >= before + 1, "no block in 2.6 s at 1 s");
await rpc("anvil_setIntervalMining", [0]);
await rpc("evm_setAutomine", [true]);
const auto = await send();
assert.equal((await receipt(auto, "automine back on")).status, "0x1");

// Accounts: nonce and code set outside any block, seen at once, kept by the next block.
const who = "0x00000000000000000000000000000000000000e9";
const ANSWER = "0x602a60005260206000f3"; // returns 42
await rpc("anvil_setNonce", [who, "0x7"]);
await rpc("anvil_setCode", [who, ANSWER]);
assert.equal(await provider.getTransactionCount(who), 7);
assert.equal(await provider.getCode(who), ANSWER);
assert.equal(BigInt(await rpc("eth_call", [{ to: who }, "latest"])), 42n);
await rpc("evm_mine");
assert.equal(await provider.getTransactionCount(who, "latest"), 7);
assert.equal(await provider.getCode(who), ANSWER);

// The next block's base fee: used once; the empty block after lowers it by 1/8.
await rpc("anvil_setNextBlockBaseFeePerGas", [ethers.toQuantity(7_000_000_000n)]);
await rpc("evm_mine");
assert.equal(BigInt((await latest()).baseFeePerGas), 7_000_000_000n);
await rpc("evm_mine");
assert.equal(BigInt((await latest()).baseFeePerGas), 6_125_000_000n);

// eth_call runs at latest in the head block's environment (NUMBER is the head's), at
// pending in the next block's, as anvil and geth run it.
const probe = "0x00000000000000000000000000000000000000b6";
await rpc("anvil_setCode", [probe, "0x4360005260206000f3"]); // returns NUMBER
await rpc("evm_mine");
const headNumber = Number((await latest()).number);
assert.equal(Number(await rpc("eth_call", [{ to: probe }, "latest"])), headNumber);
assert.equal(Number(await rpc("eth_call", [{ to: probe }])), headNumber);
assert.equal(Number(await rpc("eth_call", [{ to: probe }, "pending"])), headNumber + 1);

// Storage: a slot set outside any block, read directly, by a contract, after a block.
const slotted = "0x00000000000000000000000000000000000000b5";
const word = (n) => ethers.zeroPadValue(ethers.toBeHex(n), 32);
await rpc("anvil_setCode", [slotted, "0x60005460005260206000f3"]); // returns SLOAD(0)
assert.equal(await rpc("anvil_setStorageAt", [slotted, "0x0", word(42)]), true);
assert.equal(await provider.getStorage(slotted, 0), word(42));
assert.equal(BigInt(await rpc("eth_call", [{ to: slotted }, "latest"])), 42n);
await rpc("hardhat_setStorageAt", [slotted, "0x5", word(7)]);
await rpc("evm_mine");
assert.equal(BigInt(await rpc("eth_call", [{ to: slotted }, "latest"])), 42n);
assert.equal(await provider.getStorage(slotted, 5), word(7));

// Impersonation: send as an account nobody here holds the key of, through ethers'
// JsonRpcSigner (eth_sendTransaction), as Foundry and Hardhat tests do.
const whale = "0x00000000000000000000000000000000000000a1";
const other = "0x00000000000000000000000000000000000000a2";
await rpc("anvil_setBalance", [whale, ethers.toQuantity(ethers.parseEther("10"))]);
await rpc("anvil_setBalance", [other, ethers.toQuantity(ethers.parseEther("10"))]);
const fromWhale = { from: whale, to, value: "0x5" };
await assert.rejects(rpc("eth_sendTransaction", [fromWhale]), /unknown account|No Signer|not/i);
await rpc("anvil_impersonateAccount", [whale]);
const asWhale = await provider.getSigner(whale);
const impersonated = await asWhale.sendTransaction({ to, value: 5n });
const whaleReceipt = await receipt(impersonated.hash, "impersonated");
assert.equal(whaleReceipt.status, "0x1");
assert.equal(whaleReceipt.from.toLowerCase(), whale);
const fetched = await provider.getTransaction(impersonated.hash);
assert.equal(fetched.from.toLowerCase(), whale);
assert.equal(await provider.getTransactionCount(whale), 1);
await rpc("anvil_stopImpersonatingAccount", [whale]);
await assert.rejects(rpc("eth_sendTransaction", [fromWhale]));
await rpc("hardhat_impersonateAccount", [whale]);
await receipt(await rpc("eth_sendTransaction", [fromWhale]), "hardhat_impersonateAccount");
await rpc("hardhat_stopImpersonatingAccount", [whale]);
await rpc("anvil_autoImpersonateAccount", [true]);
await receipt(await rpc("eth_sendTransaction", [{ ...fromWhale, from: other }]), "auto-impersonated");
assert.equal(await provider.getTransactionCount(other), 1);
await rpc("anvil_autoImpersonateAccount", [false]);
await assert.rejects(rpc("eth_sendTransaction", [{ ...fromWhale, from: other }]));

if (molt) {
  // evm_revert undoes the controls with the rest (anvil 1.7 keeps them).
  const snapshot = await rpc("evm_snapshot");
  await rpc("anvil_setCoinbase", ["0x00000000000000000000000000000000000000dd"]);
  await rpc("evm_setAutomine", [false]);
  await rpc("evm_increaseTime", [1000000]);
  await rpc("anvil_setNonce", [who, "0x9"]);
  await rpc("anvil_setCode", [who, "0x"]);
  await rpc("anvil_impersonateAccount", [whale]);
  await rpc("anvil_setStorageAt", [slotted, "0x0", word(9)]);
  await rpc("evm_mine");
  await rpc("anvil_setStorageAt", [slotted, "0x5", word(0)]);
  assert.equal(await rpc("evm_revert", [snapshot]), true);
  assert.equal(await provider.getStorage(slotted, 0), word(42));
  assert.equal(await provider.getStorage(slotted, 5), word(7));
  await assert.rejects(rpc("eth_sendTransaction", [fromWhale]), /unknown account/);
  assert.equal(await provider.getTransactionCount(who), 7);
  assert.equal(await provider.getCode(who), ANSWER);
  const after = await send();
  const mined = await receipt(after, "after evm_revert");
  const block = await rpc("eth_getBlockByHash", [mined.blockHash, false]);
  assert.equal(block.miner.toLowerCase(), coinbase);
  assert.ok(Number(block.timestamp) < t1 + 100000 + 1000000);
}

console.log("cheats ok");
process.exit(0);
