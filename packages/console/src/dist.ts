import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Where the built console is (vite's output, not committed): `./piaoju start` and `./piaoju test`
 * build it when its sources changed. The gateway serves this folder under /admin.
 */
export const consoleDist = fileURLToPath(new URL("../dist", import.meta.url));

export function consoleBuilt(): boolean {
  return existsSync(`${consoleDist}/index.html`);
}
