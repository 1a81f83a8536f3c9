// Hardhat 2 configuration: compiles contracts/ exactly as chain/_compiler.py does, fully offline.
//
// The compiler settings must stay identical to chain/_compiler.py (SOLC_VERSION, OPTIMIZER_RUNS,
// EVM_VERSION, viaIR): tests/contracts/test_hardhat_parity.py checks that both pipelines produce
// byte-identical deployed bytecode (metadata hash included).
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
const solc = require("solc");

const SOLC_VERSION = "0.8.37";

// Use the pinned solcjs from node_modules/solc instead of downloading a compiler (there is no internet).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }, _hre, runSuper) => {
  if (solcVersion !== SOLC_VERSION) {
    return runSuper(); // any other version would need a download
  }
  return {
    version: SOLC_VERSION,
    longVersion: solc.version(), // e.g. "0.8.37+commit.f401782d.Emscripten.clang"
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
  };
});

/** @type {import("hardhat/config").HardhatUserConfig} */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      viaIR: true,
    },
  },
  paths: {
    sources: "contracts", // source names become "contracts/X.sol", as in chain/_compiler.py
  },
  networks: {
    // In-process Hardhat Network (`npx hardhat test`, `npx hardhat node`).
    // Its default hardfork (osaka) runs the cancun bytecode unchanged.
    hardhat: { chainId: 31337 },
    // A node already listening on the default port (`npx hardhat node`, or anvil on 8545).
    localhost: { url: "http://127.0.0.1:8545", chainId: 31337 },
  },
};
