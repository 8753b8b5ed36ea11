import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

/**
 * pnpm dead-letters list <group>            what a consumer group could not process, and why
 * pnpm dead-letters replay <group> [ids…]   put them back on their topics (all, or these event ids)
 *   --url http://127.0.0.1:8080   a running Piaoju process (any service: they share the bus)
 *   --token-file .data/secrets/internal-token   or PIAOJU_INTERNAL_TOKEN
 *   --actor <your name>           recorded in the audit log
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string", default: "http://127.0.0.1:8080" },
    "token-file": { type: "string", default: ".data/secrets/internal-token" },
    actor: { type: "string", default: process.env.USER ?? "operator" },
  },
});
const [command, group, ...ids] = positionals;
if ((command !== "list" && command !== "replay") || !group) {
  console.error(
    "usage: dead-letters list|replay <group> [event ids…] [--url …] [--token-file …] [--actor …]",
  );
  process.exit(2);
}
const token = process.env.PIAOJU_INTERNAL_TOKEN ?? (await readFile(values["token-file"], "utf8")).trim();
const headers = {
  authorization: `Bearer ${token}`,
  "x-piaoju-actor": values.actor,
  "x-piaoju-agencies": "*",
  "content-type": "application/json",
};
const path = `${values.url}/v1/admin/dead-letters/${encodeURIComponent(group)}`;
const res =
  command === "list"
    ? await fetch(path, { headers })
    : await fetch(`${path}/replay`, {
        method: "POST",
        headers,
        body: JSON.stringify(ids.length ? { eventIds: ids } : {}),
      });
const body = (await res.json()) as Record<string, unknown>;
if (!res.ok) {
  console.error(`${res.status}: ${String(body.detail ?? JSON.stringify(body))}`);
  process.exit(1);
}
if (command === "replay") {
  console.log(`replayed ${String(body.replayed)} dead letter(s) of ${group}`);
} else {
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
}
