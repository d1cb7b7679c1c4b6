#!/usr/bin/env node
// `solc` for forge, made of solc-js: forge runs `solc --version`, then
// `solc --standard-json [--base-path P] [--allow-paths …] [--include-path …]` with the
// Standard JSON input on stdin.
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const args = process.argv.slice(2);
if (args.includes('--version')) {
  console.log('solc, the solidity compiler commandline interface');
  console.log(`Version: ${solc.version()}`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  console.error('this solc shim only speaks --standard-json');
  process.exit(1);
}
const at = args.indexOf('--base-path');
const base = at >= 0 ? args[at + 1] : process.cwd();
const imports = (p) => {
  try {
    return { contents: fs.readFileSync(path.resolve(base, p), 'utf8') };
  } catch (e) {
    return { error: `${p}: ${e.message}` };
  }
};
process.stdout.write(solc.compile(fs.readFileSync(0, 'utf8'), { import: imports }));
