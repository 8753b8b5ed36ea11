import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const packageDir = fileURLToPath(new URL("../..", import.meta.url));
export const fixtureSchema = fileURLToPath(new URL("../fixture/prisma/schema.prisma", import.meta.url));
export const fixtureMigrations = fileURLToPath(new URL("../fixture/prisma/migrations", import.meta.url));
const generatedClient = new URL("../fixture/generated/prisma/client.ts", import.meta.url);

export type FixtureClientModule = typeof import("../fixture/generated/prisma/client.ts");

/**
 * The fixture's generated Prisma client (generated/ is not committed): runs the package's `generate` script first
 * when it is missing, e.g. in a fresh clone.
 */
export async function loadFixtureClient(): Promise<FixtureClientModule> {
  if (!existsSync(fileURLToPath(generatedClient))) {
    execFileSync("pnpm", ["run", "generate"], { cwd: packageDir, stdio: "inherit" });
  }
  return import(generatedClient.href) as Promise<FixtureClientModule>;
}
