// Regenerates contracts.json (deployment and runtime bytecode) from the .sol files
// with solc-js: `npm install solc@0.8.28 && node host/src/bench/contracts/build.js`.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const dir = __dirname;
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".sol"))) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors || []) {
  if (e.severity === "error") throw new Error(e.formattedMessage);
}
const out = { compiler: solc.version() };
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    out[name] = { init: "0x" + c.evm.bytecode.object, runtime: "0x" + c.evm.deployedBytecode.object };
  }
}
fs.writeFileSync(path.join(dir, "contracts.json"), JSON.stringify(out, null, 2) + "\n");
console.log("wrote contracts.json with", Object.keys(out).filter((k) => k !== "compiler").join(", "));
