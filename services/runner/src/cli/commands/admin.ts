import { readFile } from "node:fs/promises";
import { builtInRoleNames } from "@piaoju/access";
import type { Command } from "commander";
import { type CliCommand, groups, UsageError } from "../program.ts";

interface Connection {
  url: string;
  tokenFile: string;
  actor: string;
}

/**
 * `piaoju admin`: the operator's side of people. `create` makes an account (a cluster's first
 * administrators, or anyone) and prints its one-time password once; `audit verify` walks the audit
 * log's SM3 hash chain. Both go through the running gateway with the platform's token.
 */
export default {
  order: 70,
  register(program) {
    const admin = program
      .command("admin")
      .helpGroup(groups.operate)
      .summary("people: create an account, verify the audit log")
      .description(
        "Administers people through a running gateway (with the internal token). Everything else about\n" +
          "people (roles, data scopes, sessions, the audit log) is in the console, by permission.",
      );
    const connect = (c: Command) =>
      c
        .option("--url <url>", "the running gateway (embedded: the platform)", "http://127.0.0.1:8080")
        .option(
          "--token-file <file>",
          "the internal token (or PIAOJU_INTERNAL_TOKEN)",
          ".data/secrets/internal-token",
        )
        .option("--actor <name>", "who you are, for the audit log", process.env.USER ?? "operator");
    connect(
      admin
        .command("create")
        .description(
          `a console account with a one-time password, printed once (roles: ${builtInRoleNames.join(", ")}, or one made in the console)`,
        ),
    )
      .argument("<username>", "the sign-in name")
      .requiredOption(
        "--agency <code>",
        "the agency the person works for, or * for the platform's own administrators",
      )
      .requiredOption("--role <roles...>", "one or more roles")
      .option("--points <codes>", "issuing points the person is bound to (开票点用户), comma-separated")
      .option("--scope <scope>", "data scope of the roles: agency, points or own (default: each role's)")
      .option("--display-name <name>", "the name shown in the console")
      .action(
        async (
          username: string,
          opts: Connection & {
            agency: string;
            role: string[];
            points?: string;
            scope?: string;
            displayName?: string;
          },
        ) => {
          const body = await call(opts, "POST", "/v1/admin/users", {
            username,
            agencyCode: opts.agency,
            roles: opts.role,
            ...(opts.points ? { issuingPoints: opts.points.split(",").map((p) => p.trim()) } : {}),
            ...(opts.scope ? { scope: opts.scope } : {}),
            ...(opts.displayName ? { displayName: opts.displayName } : {}),
          });
          console.log(`created ${username} (${opts.role.join(", ")}, agency ${opts.agency})`);
          console.log(
            `one-time password (shown once; to be changed at first sign-in): ${String(body.oneTimePassword)}`,
          );
        },
      );
    const audit = admin.command("audit").description("the audit log (日志管理)");
    connect(
      audit.command("verify").description("walk the audit log's SM3 hash chain; exit 1 at the first break"),
    ).action(async (opts: Connection) => {
      const body = await call(opts, "GET", "/v1/admin/audit/verification");
      const broken = body.broken as { seq: string; reason: string } | undefined;
      if (broken) {
        console.log(
          `audit log BROKEN at entry ${broken.seq} (${broken.reason}) after ${String(body.entries)} good entries`,
        );
        process.exitCode = 1;
        return;
      }
      console.log(`audit log intact: ${String(body.entries)} entries, last hash ${String(body.lastHash)}`);
    });
  },
} satisfies CliCommand;

async function call(opts: Connection, method: "GET" | "POST", path: string, body?: unknown) {
  const token =
    process.env.PIAOJU_INTERNAL_TOKEN ??
    (
      await readFile(opts.tokenFile, "utf8").catch(() => {
        throw new UsageError(
          `no internal token: set PIAOJU_INTERNAL_TOKEN or --token-file (${opts.tokenFile} is not there)`,
        );
      })
    ).trim();
  const res = await fetch(`${opts.url.replace(/\/$/, "")}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      "x-piaoju-operator": opts.actor,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  if (!res.ok) {
    const issues = (answer.issues as Array<{ field: string; message: string }> | undefined) ?? [];
    throw new Error(
      `${res.status}: ${String(answer.detail ?? "")}${issues.map((i) => ` ${i.field}: ${i.message}`).join(";")}`,
    );
  }
  return answer;
}
