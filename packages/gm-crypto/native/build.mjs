// Builds the SM2 addon (native/build/Release/gm_sm2.node) with node-gyp against the headers that
// ship with this machine's Node, never downloading any (`--nodedir`). Run by this package's
// `install` script, so `pnpm install` (and ./piaoju's install step) builds it on every machine.
//
// A failed build is not a failed install: gm-crypto then falls back to Node's OpenSSL and says so
// in a log line. The test suite refuses that fallback in CI (native.unit.spec.ts), so the fast
// path is always the one tested there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The folder holding include/node/node_api.h for the running Node. */
function nodeDir() {
  const candidates = [
    process.config.variables.node_prefix,
    dirname(dirname(process.execPath)),
    "/usr",
    "/usr/local",
  ];
  return candidates.find((dir) => dir && existsSync(join(dir, "include", "node", "node_api.h")));
}

function fail(message) {
  process.stderr.write(
    `gm-crypto: the native SM2 addon was NOT built (${message}); SM2 will run on Node's OpenSSL (much slower).\n`,
  );
  process.exit(process.env.PIAOJU_REQUIRE_NATIVE === "1" ? 1 : 0);
}

const dir = nodeDir();
if (!dir) fail("no Node headers found (include/node/node_api.h beside this Node)");
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
} catch {
  fail("node-gyp is not installed");
}
const result = spawnSync(process.execPath, [gyp, "rebuild", `--nodedir=${dir}`, "--loglevel=warn"], {
  cwd: here,
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, npm_config_nodedir: dir },
});
if (result.status !== 0) fail(`node-gyp exited with ${result.status ?? result.signal}`);
if (!existsSync(join(here, "build", "Release", "gm_sm2.node"))) fail("node-gyp left no gm_sm2.node");
