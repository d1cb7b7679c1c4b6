// Signing with the node's unlocked accounts, as ethers v6 and viem ask for it:
// personal_sign (signMessage), eth_sign, eth_signTypedData_v4 (signTypedData) and
// eth_signTransaction (signTransaction); every signature is recovered to the account
// by the client's own code, and an account the node holds no key for is refused.
// Usage: node sign.mjs RPC_URL. Exits non-zero on the first surprise.
import assert from "node:assert/strict";
import { ethers } from "ethers";
import { createWalletClient, http, recoverMessageAddress, recoverTypedDataAddress } from "viem";
import { foundry } from "viem/chains";

const url = process.argv[2];
const ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const provider = new ethers.JsonRpcProvider(url);
const signer = await provider.getSigner(ACCOUNT0);

// personal_sign and eth_sign: EIP-191 messages.
const message = "molt signs with the key it holds";
const personal = await signer.signMessage(message);
assert.equal(ethers.verifyMessage(message, personal), ACCOUNT0);
const data = ethers.hexlify(ethers.toUtf8Bytes(message));
const ethSign = await provider.send("eth_sign", [ACCOUNT0, data]);
assert.equal(ethSign, personal);
assert.ok([27, 28].includes(parseInt(personal.slice(-2), 16)), "v is 27 or 28");

// eth_signTypedData_v4: EIP-712.
const domain = { name: "Mail", version: "1", chainId: 31337, verifyingContract: ACCOUNT0 };
const types = {
  Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }],
  Mail: [
    { name: "from", type: "Person" },
    { name: "to", type: "Person" },
    { name: "contents", type: "string" },
    { name: "amounts", type: "uint256[]" },
  ],
};
const mail = {
  from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
  to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
  contents: "Hello, Bob!",
  amounts: [1n, 2n ** 200n],
};
const typed = await signer.signTypedData(domain, types, mail);
assert.equal(ethers.verifyTypedData(domain, types, mail, typed), ACCOUNT0);

// viem, through the same methods.
const wallet = createWalletClient({ chain: foundry, transport: http(url), account: ACCOUNT0 });
const viemMessage = await wallet.signMessage({ message });
assert.equal(viemMessage, personal);
assert.equal(await recoverMessageAddress({ message, signature: viemMessage }), ACCOUNT0);
const viemTyped = await wallet.signTypedData({
  domain,
  types,
  primaryType: "Mail",
  message: mail,
});
assert.equal(viemTyped, typed);
assert.equal(
  await recoverTypedDataAddress({ domain, types, primaryType: "Mail", message: mail, signature: viemTyped }),
  ACCOUNT0,
);

// eth_signTransaction: a complete, signed transaction that the node then accepts.
const to = "0x00000000000000000000000000000000000000e7";
const raw = await signer.signTransaction({ to, value: 5n });
const tx = ethers.Transaction.from(raw);
assert.equal(tx.from, ACCOUNT0);
assert.equal(tx.to, ethers.getAddress(to));
assert.equal(tx.value, 5n);
assert.equal(tx.chainId, 31337n);
const hash = await provider.send("eth_sendRawTransaction", [raw]);
assert.equal(hash, tx.hash);
assert.equal((await provider.waitForTransaction(hash)).status, 1);
assert.equal(await provider.getBalance(to), 5n);

// An account the node holds no key for.
const stranger = "0x000000000000000000000000000000000000dEaD";
await assert.rejects(provider.send("personal_sign", [data, stranger]));
await assert.rejects(provider.send("eth_signTransaction", [{ from: stranger, to, value: "0x1" }]));

console.log("sign ok");
process.exit(0);
