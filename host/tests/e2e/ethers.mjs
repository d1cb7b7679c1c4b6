// ethers v6 + solc-js against a running node: compile an ERC-20 with events, deploy
// it, transfer, read balances, query Transfer logs with a filter, catch a revert with
// its reason, and send from an unlocked account. Usage: node ethers.mjs RPC_URL
// Exits non-zero with a message on the first thing that is not as a user expects.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ethers } from "ethers";
import solc from "solc";

const url = process.argv[2];
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ACCOUNT1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

const source = readFileSync(
  fileURLToPath(new URL("../../src/bench/contracts/Token.sol", import.meta.url)),
  "utf8",
);
const output = JSON.parse(
  solc.compile(
    JSON.stringify({
      language: "Solidity",
      sources: { "Token.sol": { content: source } },
      settings: {
        evmVersion: "cancun",
        outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
      },
    }),
  ),
);
for (const e of output.errors ?? []) assert.notEqual(e.severity, "error", e.formattedMessage);
const artifact = output.contracts["Token.sol"].Token;

// ethers caches identical requests for 250 ms by default, which on a node that mines
// instantly hands out a stale pending nonce (the same with anvil): turn it off.
const provider = new ethers.JsonRpcProvider(url, undefined, {
  pollingInterval: 50,
  cacheTimeout: -1,
});
if (process.env.MOLT_E2E_TRACE) {
  const send = provider._send.bind(provider);
  provider._send = async (payload) => {
    const result = await send(payload);
    console.error(JSON.stringify(payload), "->", JSON.stringify(result));
    return result;
  };
}
const network = await provider.getNetwork();
assert.equal(network.chainId, 31337n);
const wallet = new ethers.Wallet(KEY0, provider);
const before = await provider.getBalance(wallet.address);
assert.equal(before > 0n, true, "dev account 0 is funded");

// Deploy.
const factory = new ethers.ContractFactory(artifact.abi, artifact.evm.bytecode.object, wallet);
const supply = ethers.parseEther("1000000");
const token = await factory.deploy(supply);
const deployReceipt = await token.deploymentTransaction().wait();
assert.equal(deployReceipt.status, 1);
const address = await token.getAddress();
assert.equal(deployReceipt.contractAddress, address);
assert.notEqual(await provider.getCode(address), "0x");
assert.equal(await token.totalSupply(), supply);
assert.equal(await token.symbol(), "MBT");

// Transfer, and read balances back.
const amount = ethers.parseEther("12.5");
const tx = await token.transfer(ACCOUNT1, amount);
const receipt = await tx.wait();
assert.equal(receipt.status, 1);
assert.equal(receipt.logs.length, 1);
assert.equal(await token.balanceOf(ACCOUNT1), amount);
assert.equal(await token.balanceOf(wallet.address), supply - amount);
const mined = await provider.getTransaction(tx.hash);
assert.equal(mined.blockNumber, receipt.blockNumber);
assert.equal(mined.from, wallet.address);

// Logs: everything Transfer from the token, then only those to ACCOUNT1.
const all = await token.queryFilter(token.filters.Transfer(), 0, "latest");
assert.equal(all.length, 2, "mint + transfer");
assert.equal(all[0].args.from, ethers.ZeroAddress);
const toAccount1 = await token.queryFilter(token.filters.Transfer(null, ACCOUNT1));
assert.equal(toAccount1.length, 1);
assert.equal(toAccount1[0].args.value, amount);
assert.equal(toAccount1[0].transactionHash, tx.hash);
const none = await token.queryFilter(token.filters.Transfer(ACCOUNT1));
assert.equal(none.length, 0);

// A revert, with its reason, from eth_call/estimateGas before anything is sent.
const poor = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
await assert.rejects(
  token.connect(poor).transfer.staticCall(wallet.address, 1n),
  (e) => e.code === "CALL_EXCEPTION" && e.reason === "insufficient balance",
);
await assert.rejects(
  token.transfer(ACCOUNT1, supply * 2n),
  (e) => e.code === "CALL_EXCEPTION" && e.reason === "insufficient balance",
);

// An unlocked account: the node signs (eth_sendTransaction).
const signer1 = await provider.getSigner(ACCOUNT1);
const plain = await signer1.sendTransaction({ to: wallet.address, value: 1234n });
const plainReceipt = await plain.wait();
assert.equal(plainReceipt.status, 1);
assert.equal(plainReceipt.from, ACCOUNT1);

// Blocks as ethers reads them.
const block = await provider.getBlock(receipt.blockNumber, true);
assert.ok(block.transactions.includes(tx.hash));
assert.equal(block.hash, receipt.blockHash);
const fees = await provider.getFeeData();
assert.ok(fees.maxFeePerGas > 0n && fees.gasPrice > 0n);

console.log(JSON.stringify({ ok: true, token: address, transfer: tx.hash }));
