// Tracing as developers ask for it (ethers v6 + solc-js): a contract that calls another,
// traced with geth's struct logs, callTracer (withLog), prestateTracer (and diffMode),
// 4byteTracer, per block and as a call (with a state override); Parity's
// trace_transaction and trace_block; eth_createAccessList; and eth_call with an access
// list. Usage: node trace.mjs RPC_URL NAME. Exits non-zero on the first surprise.
import assert from "node:assert/strict";
import { ethers } from "ethers";
import solc from "solc";

const [url, which] = process.argv.slice(2);
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

const source = `
pragma solidity ^0.8.20;
contract Child {
    uint256 public value;
    event Set(uint256 value);
    function set(uint256 v) external returns (uint256) {
        value = v;
        emit Set(v);
        return v * 2;
    }
}
contract Parent {
    Child public child;
    constructor(Child c) { child = c; }
    function callChild(uint256 v) external returns (uint256) {
        return child.set(v);
    }
}`;
const output = JSON.parse(
  solc.compile(
    JSON.stringify({
      language: "Solidity",
      sources: { "Trace.sol": { content: source } },
      settings: {
        evmVersion: "cancun",
        outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
      },
    }),
  ),
);
for (const e of output.errors ?? []) assert.notEqual(e.severity, "error", e.formattedMessage);
const artifact = (name) => output.contracts["Trace.sol"][name];

const provider = new ethers.JsonRpcProvider(url, undefined, { pollingInterval: 50, cacheTimeout: -1 });
const wallet = new ethers.Wallet(KEY0, provider);
const deploy = async (name, ...args) => {
  const a = artifact(name);
  const c = await new ethers.ContractFactory(a.abi, a.evm.bytecode.object, wallet).deploy(...args);
  await c.deploymentTransaction().wait();
  return c;
};
const child = await deploy("Child");
const parent = await deploy("Parent", await child.getAddress());
const childAddress = (await child.getAddress()).toLowerCase();
const parentAddress = (await parent.getAddress()).toLowerCase();
const sent = await parent.callChild(7);
const receipt = await provider.waitForTransaction(sent.hash);
assert.equal(receipt.status, 1);
const gasUsed = receipt.gasUsed;
const selector = (sig) => ethers.id(sig).slice(0, 10);
const SET = selector("set(uint256)");
const CALL_CHILD = selector("callChild(uint256)");
const word = (n) => ethers.zeroPadValue(ethers.toBeHex(n), 32);
const trace = (options) => provider.send("debug_traceTransaction", [sent.hash, options]);

// callTracer: the parent called, which called the child; the receipt's gas.
const calls = await trace({ tracer: "callTracer", tracerConfig: { withLog: true } });
assert.equal(calls.type, "CALL");
assert.equal(calls.to, parentAddress);
assert.equal(BigInt(calls.gasUsed), gasUsed);
assert.equal(calls.output, word(14));
assert.equal(calls.calls.length, 1);
assert.equal(calls.calls[0].to, childAddress);
assert.ok(calls.calls[0].input.startsWith(SET));
assert.equal(calls.calls[0].logs.length, 1);
assert.equal(calls.calls[0].logs[0].data, word(7));

// Struct logs (no tracer): every step, the CALL among them, the receipt's gas.
const steps = await trace({});
assert.equal(steps.failed, false);
assert.equal(BigInt(steps.gas), gasUsed);
assert.equal(steps.returnValue.replace(/^0x/, ""), word(14).slice(2));
// (anvil records the steps of mined transactions only with --steps-tracing.)
if (which !== "anvil" || steps.structLogs.length) {
  const ops = steps.structLogs.map((s) => s.op);
  assert.ok(ops.includes("CALL") && ops.includes("SSTORE") && ops.includes("LOG1"), ops.join(","));
  assert.equal(steps.structLogs[0].pc, 0);
  assert.equal(steps.structLogs[0].depth, 1);
  assert.ok(steps.structLogs.some((s) => s.depth === 2));
}

// prestateTracer: both contracts as they were; diffMode: the child's slot 0 became 7.
const pre = await trace({ tracer: "prestateTracer" });
assert.ok(pre[parentAddress]?.code?.length > 2, JSON.stringify(pre));
assert.ok(pre[childAddress], JSON.stringify(pre));
const diff = await trace({ tracer: "prestateTracer", tracerConfig: { diffMode: true } });
assert.equal(diff.post[childAddress].storage[word(0)], word(7));

// 4byteTracer: each selector with its argument size.
const four = await trace({ tracer: "4byteTracer" });
assert.deepEqual(four, { [`${CALL_CHILD}-32`]: 1, [`${SET}-32`]: 1 });

// A block's traces, each with its transaction's hash.
const blockTag = ethers.toQuantity(receipt.blockNumber);
const byNumber = await provider.send("debug_traceBlockByNumber", [blockTag, { tracer: "callTracer" }]);
assert.equal(byNumber.length, 1);
assert.equal(byNumber[0].txHash, sent.hash);
assert.deepEqual(byNumber[0].result.calls[0].to, childAddress);
const byHash = await provider.send("debug_traceBlockByHash", [receipt.blockHash, { tracer: "callTracer" }]);
assert.deepEqual(byHash, byNumber);

// debug_traceCall on the latest state, then with the child's code replaced by nothing
// (a call to an empty account succeeds with no output, so the parent's decode reverts).
const call = { from: wallet.address, to: parentAddress, data: parent.interface.encodeFunctionData("callChild", [9]) };
const traced = await provider.send("debug_traceCall", [call, "latest", { tracer: "callTracer" }]);
assert.equal(traced.output, word(18));
assert.equal(traced.calls[0].to, childAddress);
const overridden = await provider.send("debug_traceCall", [
  call,
  "latest",
  { tracer: "callTracer", stateOverrides: { [childAddress]: { code: "0x" } } },
]);
assert.equal(overridden.error, "execution reverted");

// Parity's traces: the parent's call and, under it, the child's.
const parity = await provider.send("trace_transaction", [sent.hash]);
assert.equal(parity.length, 2);
assert.equal(parity[0].action.to, parentAddress);
assert.equal(parity[0].action.callType, "call");
assert.deepEqual(parity[0].traceAddress, []);
assert.equal(parity[0].subtraces, 1);
assert.equal(parity[1].action.to, childAddress);
assert.deepEqual(parity[1].traceAddress, [0]);
assert.equal(parity[1].transactionHash, sent.hash);
assert.equal(parity[1].blockNumber, receipt.blockNumber);
const block = await provider.send("trace_block", [blockTag]);
assert.deepEqual(
  block.filter((t) => t.type === "call"),
  parity,
);

// eth_createAccessList: the child and its slot, and the parent's slot holding the
// child's address; the gas a transaction with that list uses; then a call with it.
const listed = await provider.send("eth_createAccessList", [{ ...call, gas: ethers.toQuantity(500000) }, "latest"]);
const entry = (address) => listed.accessList.find((e) => e.address.toLowerCase() === address);
assert.deepEqual(entry(childAddress)?.storageKeys, [word(0)], JSON.stringify(listed));
assert.deepEqual(entry(parentAddress)?.storageKeys, [word(0)], JSON.stringify(listed));
assert.ok(BigInt(listed.gasUsed) > 21000n);
const withList = await provider.call({ ...call, accessList: listed.accessList, type: 1 });
assert.equal(withList, word(18));

console.log(`${which}: trace ok`);
