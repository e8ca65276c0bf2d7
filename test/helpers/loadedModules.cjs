// Preloaded (node -r) into a command under test: when the process exits, writes
// the files it had loaded through require (tsx compiles TypeScript to CommonJS)
// to $INFERMESH_LOADED_MODULES, so a test can tell what a command imported
// before it failed.
const { writeFileSync } = require("node:fs");

const target = process.env.INFERMESH_LOADED_MODULES;
if (target) {
  process.on("exit", () => writeFileSync(target, JSON.stringify(Object.keys(require.cache))));
}
