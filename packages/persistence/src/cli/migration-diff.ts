// Writes a new Prisma migration from a changed schema.prisma, without the Prisma CLI's schema-engine binary.
//
//   pnpm --filter @piaoju/persistence exec tsx src/cli/migration-diff.ts \
//     --schema ../../services/<svc>/prisma/schema.prisma --name add_payer_index [--migrations <dir>] [--dry-run]
//
// Relative paths are resolved against the directory pnpm was started from (INIT_CWD), so running it from a
// service folder with `--schema prisma/schema.prisma` works too.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { diffSchema, writeMigration } from "../migration-diff.ts";

const USAGE =
  "usage: tsx src/cli/migration-diff.ts --schema <schema.prisma | schema folder> --name <name> " +
  "[--migrations <dir>] [--dry-run]";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      schema: { type: "string" },
      name: { type: "string" },
      migrations: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.schema || (!values.name && !values["dry-run"])) {
    console.error(USAGE);
    return 64;
  }
  const base = process.env.INIT_CWD ?? process.cwd();
  const schemaPath = resolve(base, values.schema);
  const migrationsDir = values.migrations ? resolve(base, values.migrations) : undefined;

  if (values["dry-run"]) {
    const { sql } = await diffSchema({ schemaPath, migrationsDir });
    if (sql === null) console.error("No difference between the migrations and the schema.");
    else process.stdout.write(sql);
    return 0;
  }
  const written = await writeMigration({ schemaPath, migrationsDir, name: values.name ?? "" });
  if (written === null) {
    console.error("No difference between the migrations and the schema: nothing written.");
    return 0;
  }
  process.stdout.write(written.sql);
  console.error(`\nWrote ${written.path}. Review it, then commit it with the schema change.`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
