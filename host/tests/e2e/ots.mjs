// Otterscan's ots_* methods as the explorer calls them: a factory that creates a
// child with value, pays an address, and reverts with a reason; their call trees,
// internal operations, revert data, creators, block details and pages, and an
// address's transactions page by page. Usage: node ots.mjs RPC_URL NAME.
import assert from "node:assert/strict";
import { ethers } from "ethers";
import solc from "solc";

const [url, which] = process.argv.slice(2);
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const source = `
pragma solidity ^0.8.20;
contract Child { constructor() payable {} }
contract Factory {
    event Made(address child);
    function make() external payable { emit Made(address(new Child{value: msg.value}())); }
    function pay(address payable to) external payable { to.transfer(msg.value); }
    function fail() external pure { revert("nope"); }
}`;
const output = JSON.parse(
  solc.compile(
    JSON.stringify({
      language: "Solidity",
      sources: { "Ots.sol": { content: source } },
      settings: { evmVersion: "cancun", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
    }),
  ),
);
for (const e of output.errors ?? []) assert.notEqual(e.severity, "error", e.formattedMessage);
const artifact = output.contracts["Ots.sol"].Factory;

const provider = new ethers.JsonRpcProvider(url, undefined, { pollingInterval: 50, cacheTimeout: -1 });
const rpc = (method, params = []) => provider.send(method, params);
const wallet = new ethers.Wallet(KEY0, provider);
const me = wallet.address.toLowerCase();
const mined = async (tx) => {
  for (let i = 0; i < 200; i++) {
    const r = await provider.getTransactionReceipt(tx.hash);
    if (r) return r;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not mined: ${tx.hash}`);
};
const factoryContract = await new ethers.ContractFactory(artifact.abi, artifact.evm.bytecode.object, wallet).deploy();
const deployTx = factoryContract.deploymentTransaction();
await mined(deployTx);
const factory = (await factoryContract.getAddress()).toLowerCase();
const makeTx = await factoryContract.make({ value: 3n });
const makeReceipt = await mined(makeTx);
const child = factoryContract.interface.parseLog(makeReceipt.logs[0]).args.child.toLowerCase();
const target = "0x00000000000000000000000000000000000000e7";
const payTx = await factoryContract.pay(target, { value: 5n });
await mined(payTx);
const failTx = await factoryContract.fail.send({ gasLimit: 100000n });
const failReceipt = await mined(failTx);
assert.equal(failReceipt.status, 0);

assert.equal(await rpc("ots_getApiLevel"), 8);
assert.equal(await rpc("ots_hasCode", [factory, "latest"]), true);
assert.equal(await rpc("ots_hasCode", [target, "latest"]), false);

// Revert data: Error("nope"); none for a success.
const error = await rpc("ots_getTransactionError", [failTx.hash]);
assert.equal(ethers.AbiCoder.defaultAbiCoder().decode(["string"], "0x" + error.slice(10))[0], "nope");
assert.ok(error.startsWith("0x08c379a0"));
assert.equal(await rpc("ots_getTransactionError", [payTx.hash]), "0x");

// The call tree, flattened; the operations inside.
// (anvil 1.7 leaves CREATE frames out of the tree; erigon, which defined the method,
// lists them, and so does molt.)
const tree = await rpc("ots_traceTransaction", [makeTx.hash]);
const frames = [
  ["CALL", 0, me, factory, 3n],
  ["CREATE", 1, factory, child, 3n],
];
assert.deepEqual(
  tree.map((t) => [t.type, t.depth, t.from, t.to, BigInt(t.value)]),
  which === "anvil" ? frames.slice(0, 1) : frames,
);
// (anvil 1.7 lists the transaction's own transfer too; erigon and molt list only what
// happens inside it.)
const inside = async (hash) => {
  const ops = await rpc("ots_getInternalOperations", [hash]);
  return which === "anvil" ? ops.filter((o) => o.from !== me) : ops;
};
assert.deepEqual(await inside(makeTx.hash), [
  { type: 2, from: factory, to: child, value: "0x3" },
]);
assert.deepEqual(await inside(payTx.hash), [
  { type: 0, from: factory, to: target, value: "0x5" },
]);

// Who created what: a wallet's deployment, and a factory's child.
const created = await rpc("ots_getContractCreator", [factory]);
assert.deepEqual([created.hash, created.creator], [deployTx.hash, me]);
const made = await rpc("ots_getContractCreator", [child]);
assert.deepEqual([made.hash, made.creator], [makeTx.hash, factory]);
assert.equal(await rpc("ots_getContractCreator", [target]), null);

// Block details and pages.
const details = await rpc("ots_getBlockDetails", [makeReceipt.blockNumber]);
assert.equal(details.block.hash, makeReceipt.blockHash);
assert.equal(details.block.transactionCount, 1);
assert.equal(details.block.transactions, undefined);
assert.equal(BigInt(details.issuance.issuance), 0n);
assert.equal(BigInt(details.totalFees), makeReceipt.gasUsed * makeReceipt.gasPrice);
assert.deepEqual(await rpc("ots_getBlockDetailsByHash", [makeReceipt.blockHash]), details);
const page = await rpc("ots_getBlockTransactions", [makeReceipt.blockNumber, 0, 10]);
assert.equal(page.fullblock.transactions[0].hash, makeTx.hash);
assert.equal(page.receipts[0].transactionHash, makeTx.hash);
assert.ok(Number(page.receipts[0].timestamp) > 0);
assert.equal(await rpc("ots_getTransactionBySenderAndNonce", [wallet.address, makeTx.nonce]), makeTx.hash);

// The wallet's transactions, newest first, a page at a time.
const before = await rpc("ots_searchTransactionsBefore", [wallet.address, 0, 2]);
assert.deepEqual(before.txs.map((t) => t.hash), [failTx.hash, payTx.hash]);
assert.deepEqual(before.receipts.map((r) => r.transactionHash), [failTx.hash, payTx.hash]);
assert.deepEqual([before.firstPage, before.lastPage], [true, false]);
const older = await rpc("ots_searchTransactionsBefore", [wallet.address, Number(BigInt(before.txs[1].blockNumber)), 2]);
assert.deepEqual(older.txs.map((t) => t.hash), [makeTx.hash, deployTx.hash]);
assert.equal(older.lastPage, true);
const after = await rpc("ots_searchTransactionsAfter", [wallet.address, 0, 10]);
assert.deepEqual(after.txs.map((t) => t.hash), [failTx.hash, payTx.hash, makeTx.hash, deployTx.hash]);
assert.deepEqual([after.firstPage, after.lastPage], [true, true]);

console.log(`${which}: ots ok`);
