import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { type CliCommand, groups, UsageError } from "../program.ts";

interface Options {
  url: string;
  tokenFile: string;
  actor: string;
}

/** `piaoju dead-letters`: what a consumer group could not process, and putting it back. */
export default {
  order: 50,
  register(program) {
    const dl = program
      .command("dead-letters")
      .helpGroup(groups.operate)
      .summary("list or replay what a consumer group could not process")
      .description("Dead letters are kept on piaoju.dlq.<group>; a running Piaoju lists and replays them.");
    const common = (c: Command) =>
      c
        .option(
          "--url <url>",
          "a running Piaoju process (any service: they share the bus)",
          "http://127.0.0.1:8080",
        )
        .option(
          "--token-file <file>",
          "the internal token (or PIAOJU_INTERNAL_TOKEN)",
          ".data/secrets/internal-token",
        )
        .option("--actor <name>", "who you are, for the audit log", process.env.USER ?? "operator");
    common(dl.command("list").description("the dead letters of a group, and why each died"))
      .argument("<group>", "consumer group, e.g. stock.finance-intake")
      .action(async (group: string, opts: Options) => {
        const body = await call(opts, group, "GET");
        const items = body.items as Array<{
          envelope: { id: string; type: string };
          topic: string;
          attempts: number;
          error: { message: string };
          deadAt: string;
        }>;
        for (const l of items)
          console.log(
            `${l.deadAt}  ${l.envelope.id}  ${l.envelope.type}  ${l.topic}  x${l.attempts}  ${l.error.message}`,
          );
        console.log(`${items.length} dead letter(s) in ${group}`);
      });
    common(dl.command("replay").description("put a group's dead letters back on their topics"))
      .argument("<group>", "consumer group")
      .argument("[eventIds...]", "only these events (default: all)")
      .action(async (group: string, ids: string[], opts: Options) => {
        const body = await call(opts, group, "POST", ids);
        console.log(`replayed ${String(body.replayed)} dead letter(s) of ${group}`);
      });
  },
} satisfies CliCommand;

async function call(opts: Options, group: string, method: "GET" | "POST", ids: string[] = []) {
  const token =
    process.env.PIAOJU_INTERNAL_TOKEN ??
    (
      await readFile(opts.tokenFile, "utf8").catch(() => {
        throw new UsageError(
          `no internal token: set PIAOJU_INTERNAL_TOKEN or --token-file (${opts.tokenFile} is not there)`,
        );
      })
    ).trim();
  const path = `${opts.url}/v1/admin/dead-letters/${encodeURIComponent(group)}`;
  const headers = {
    authorization: `Bearer ${token}`,
    // The token makes this an operator's call; the name goes into the log line of a replay.
    "x-piaoju-operator": opts.actor,
    "content-type": "application/json",
  };
  const res =
    method === "GET"
      ? await fetch(path, { headers })
      : await fetch(`${path}/replay`, {
          method,
          headers,
          body: JSON.stringify(ids.length ? { eventIds: ids } : {}),
        });
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${res.status}: ${String(body.detail ?? JSON.stringify(body))}`);
  return body;
}
