import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import type { MigrationList, SchemaEngine, SchemaFilter } from "@prisma/schema-engine-wasm";
import { PrismaPGlite } from "pglite-prisma-adapter";

// The Prisma schema engine compiled to WebAssembly (what `prisma migrate diff` runs), driven through an embedded
// PGlite instead of a downloaded schema-engine binary. Development tooling only: services never load it.

type BindgenModule = typeof import("@prisma/schema-engine-wasm/schema_engine_bg");

/** The part of the WebAssembly global used here (lib ES2023 without DOM does not declare it). */
interface WebAssemblyApi {
  instantiate(
    bytes: Uint8Array,
    imports: object,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const { WebAssembly } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

let bindgen: Promise<BindgenModule> | undefined;

/**
 * The package's own entry point does `import * as wasm from "./schema_engine_bg.wasm"`, which Node 20 cannot load
 * without --experimental-wasm-modules; instantiate the module by hand against its JS glue instead.
 */
function loadBindgen(): Promise<BindgenModule> {
  bindgen ??= (async () => {
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const glue: BindgenModule = await import("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await readFile(join(dirname(gluePath), "schema_engine_bg.wasm"));
    const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": glue });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue;
  })();
  return bindgen;
}

/**
 * pglite-prisma-adapter 0.7.2's executeScript() does not await PGlite's exec(): a failing script is reported as an
 * unhandled rejection instead of an error. The schema engine runs migrations on the shadow database through it, so
 * wrap it with an awaiting version.
 */
async function connectPglite(pglite: PGlite): Promise<SqlDriverAdapter> {
  const inner = await new PrismaPGlite(pglite).connect();
  const toDriverError = (inner as unknown as { onError(error: unknown): never }).onError.bind(inner);
  return Object.assign(Object.create(inner) as SqlDriverAdapter, {
    async executeScript(script: string): Promise<void> {
      try {
        await pglite.exec(script);
      } catch (error) {
        toDriverError(error);
      }
    },
  });
}

export interface PgliteSchemaEngine {
  engine: SchemaEngine;
  /** the PGlite the engine is connected to (its "database") */
  pglite: PGlite;
  close(): Promise<void>;
}

/**
 * A schema engine whose database is `pglite` (a fresh in-memory one when omitted) and whose shadow databases are
 * fresh in-memory PGlites.
 */
export async function openSchemaEngine(
  datamodels: ReadonlyArray<readonly [path: string, content: string]> = [],
  pglite?: PGlite,
): Promise<PgliteSchemaEngine> {
  const glue = await loadBindgen();
  const owned: PGlite[] = [];
  const fresh = async () => {
    const instance = await PGlite.create();
    owned.push(instance);
    return instance;
  };
  const main = pglite ?? (await fresh());
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: "postgres",
    adapterName: "@piaoju/persistence-pglite",
    connect: () => connectPglite(main),
    connectToShadowDb: async () => connectPglite(await fresh()),
  };
  const engine = await glue.SchemaEngine.new(
    { datamodels: datamodels.length > 0 ? datamodels.map(([path, content]) => [path, content]) : undefined },
    () => {},
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  return {
    engine,
    pglite: main,
    async close() {
      engine.free();
      await Promise.all(owned.map((instance) => instance.close()));
    },
  };
}

export const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

export type { MigrationList };
