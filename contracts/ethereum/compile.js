// Compiles HashedTimelock.sol with the pinned npm `solc` and writes the ABI and
// bytecode that bftx.ethereum deploys: `node compile.js [OUTPUT]`, by default
// src/bftx/ethereum/HashedTimelock.json (package data, so an installed bftx has it).
// Run it through `make contracts`; tests/ethereum/test_artifact.py checks it is fresh.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const SOURCE = "HashedTimelock.sol";
const CONTRACT = "HashedTimelock";
const here = __dirname;
const output =
  process.argv[2] || path.join(here, "..", "..", "src", "bftx", "ethereum", `${CONTRACT}.json`);

const input = {
  language: "Solidity",
  sources: { [SOURCE]: { content: fs.readFileSync(path.join(here, SOURCE), "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { [SOURCE]: { [CONTRACT]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((entry) => entry.severity === "error");
for (const entry of result.errors || []) console.error(entry.formattedMessage);
if (errors.length > 0) process.exit(1);

const contract = result.contracts[SOURCE][CONTRACT];
const artifact = {
  contractName: CONTRACT,
  source: SOURCE,
  compiler: `solc ${solc.version()}`,
  settings: { optimizer: input.settings.optimizer, evmVersion: input.settings.evmVersion },
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
  deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
};
fs.writeFileSync(output, JSON.stringify(artifact, null, 2) + "\n");
