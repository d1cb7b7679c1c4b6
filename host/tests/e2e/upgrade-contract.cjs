// Compiles the upgrade contract's Solidity source (argument 1) with solc-js and prints
// its runtime code as hex, with the settings its committed code was built with.
const fs = require('fs');
const solc = require('solc');
const input = {
  language: 'Solidity',
  sources: { 'MoltUpgrades.sol': { content: fs.readFileSync(process.argv[2], 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    metadata: { appendCBOR: false },
    outputSelection: { '*': { '*': ['evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) {
  if (e.severity === 'error') { console.error(e.formattedMessage); process.exit(1); }
}
console.log(out.contracts['MoltUpgrades.sol'].MoltUpgrades.evm.deployedBytecode.object);
