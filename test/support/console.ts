import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUILT_IN_ROLES, type BuiltInRole } from "@piaoju/access";
import { consoleBuilt } from "@piaoju/console";
import type { TestPlatform } from "@piaoju/runtime/testing";
import { generate } from "otplib";
import { type Browser, chromium } from "playwright-core";

export interface ConsoleAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { code?: string; issues?: Array<{ field: string; message: string }> };
  text: string;
}

/**
 * A person at the console, as a browser would be: a cookie jar (httpOnly session, readable CSRF
 * cookie), the CSRF token echoed on every change. Talks to the gateway's /api/console and
 * /api/internal over real HTTP.
 */
export class ConsoleSession {
  readonly cookies = new Map<string, string>();
  constructor(private readonly baseUrl: string) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    options: { csrf?: boolean } = {},
  ): Promise<ConsoleAnswer> {
    const csrf = this.cookies.get("piaoju_csrf");
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.cookies.size
          ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ") }
          : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(csrf && options.csrf !== false && method !== "GET" ? { "x-csrf-token": csrf } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const [name, value] = (pair ?? "").split("=") as [string, string];
      if (attrs.some((a) => /max-age=0$/i.test(a.trim()))) this.cookies.delete(name);
      else this.cookies.set(name, decodeURIComponent(value));
    }
    const text = await res.text();
    let parsed: ConsoleAnswer["body"] = {};
    try {
      parsed = JSON.parse(text) as ConsoleAnswer["body"];
    } catch {}
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  login(username: string, password: string, totp?: string) {
    return this.request("POST", "/api/console/login", { username, password, ...(totp ? { totp } : {}) });
  }
}

/** An account made by the operator's route (as `piaoju admin create` does): its one-time password. */
export async function createAccount(
  t: TestPlatform,
  input: { username: string; agencyCode: string; roles: string[]; issuingPoints?: string[]; scope?: string },
): Promise<string> {
  const res = await t.call("POST", "/v1/admin/users", input, { "x-piaoju-operator": "test.ops" });
  if (res.status !== 201)
    throw new Error(`create ${input.username}: ${res.status} ${JSON.stringify(res.body)}`);
  return String(res.body.oneTimePassword);
}

export const GOOD_PASSWORD = "Correct-Horse-42-battery";

/**
 * A person signed in and past the first steps: one-time password changed and, for administrator
 * roles, an authenticator set up (its codes computed here as the person's phone would).
 */
export async function signedInAs(
  t: TestPlatform,
  input: { username: string; agencyCode: string; roles: BuiltInRole[]; issuingPoints?: string[] },
): Promise<{ session: ConsoleSession; totpSecret?: string }> {
  const otp = await createAccount(t, input);
  const session = new ConsoleSession(t.platform.url);
  const first = await session.login(input.username, otp);
  if (first.status !== 200) throw new Error(`login ${input.username}: ${first.status} ${first.text}`);
  const changed = await session.request("POST", "/api/console/password", {
    currentPassword: otp,
    newPassword: GOOD_PASSWORD,
  });
  if (changed.status !== 200)
    throw new Error(`password ${input.username}: ${changed.status} ${changed.text}`);
  if (!input.roles.some((r) => BUILT_IN_ROLES[r].administrator)) return { session };
  const enrolled = await session.request("POST", "/api/console/totp/enroll", {});
  const secret = String(enrolled.body.secret);
  const confirmed = await session.request("POST", "/api/console/totp/confirm", {
    code: await generate({ secret }),
  });
  if (confirmed.status !== 200)
    throw new Error(`totp ${input.username}: ${confirmed.status} ${confirmed.text}`);
  return { session, totpSecret: secret };
}

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Polls until the probe gives a value (the platform works asynchronously: bus, signing, finance). */
export async function until<T>(probe: () => Promise<T | undefined>, withinMs = 60_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `piaoju start` as the README runs it: embedded, with the finance simulator and the demo. */
export async function startPlatform(dataDir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", "services/runner/src/main.ts", "start"], {
    cwd: REPO_ROOT,
    env: { ...process.env, PIAOJU_DATA_DIR: dataDir, PIAOJU_HTTP_PORT: "0", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const url = await until(async () => {
    if (child.exitCode !== null) throw new Error(`piaoju start ended:\n${out}`);
    return /Piaoju is running at (http:\/\/\S+); Ctrl-C to stop/.exec(out)?.[1];
  }, 220_000);
  return { child, url, out: () => out };
}

/** A console call that must succeed: its body, or an error naming the call and the answer. */
export async function okBody(
  s: ConsoleSession,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await s.request(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

/** The one-time passwords `./piaoju start` printed for the first administrators, by username. */
export function firstAdministratorPasswords(out: string): Record<string, string> {
  const otp: Record<string, string> = {};
  for (const m of out.matchAll(/^ {2}(sysadmin|secadmin|auditor)\s+\S+\s+(\S{18})$/gm)) otp[m[1]!] = m[2]!;
  return otp;
}

/**
 * A first administrator past the first steps through the API, as the people e2e does: the
 * one-time password changed, an authenticator set up (its secret returned, to make later codes).
 */
export async function firstAdministrator(
  url: string,
  username: string,
  oneTimePassword: string,
): Promise<{ session: ConsoleSession; totpSecret: string }> {
  const session = new ConsoleSession(url);
  const first = await session.login(username, oneTimePassword);
  if (first.status !== 200) throw new Error(`login ${username}: ${first.status} ${first.text}`);
  await okBody(session, "POST", "/api/console/password", {
    currentPassword: oneTimePassword,
    newPassword: GOOD_PASSWORD,
  });
  const { secret } = (await okBody(session, "POST", "/api/console/totp/enroll", {})) as { secret: string };
  await okBody(session, "POST", "/api/console/totp/confirm", { code: await generate({ secret }) });
  return { session, totpSecret: secret };
}

/**
 * Staff of one agency as a bureau makes them in the console: the system administrator creates
 * each account, the security administrator grants its role (三员分立), and each person signs in
 * once and replaces the one-time password with GOOD_PASSWORD. Their sessions, by username.
 */
export async function staffByApi(
  url: string,
  admins: { sysadmin: ConsoleSession; secadmin: ConsoleSession },
  agencyCode: string,
  people: ReadonlyArray<{
    username: string;
    displayName: string;
    role: BuiltInRole;
    issuingPoints: string[];
  }>,
): Promise<Record<string, ConsoleSession>> {
  const made: Record<string, string> = {};
  for (const { username, displayName, issuingPoints } of people) {
    const res = await okBody(admins.sysadmin, "POST", "/api/console/users", {
      username,
      displayName,
      agencyCode,
      issuingPoints,
    });
    made[username] = String(res.oneTimePassword);
  }
  const users = (await okBody(admins.secadmin, "GET", "/api/console/users")).items as Array<{
    id: string;
    username: string;
  }>;
  const sessions: Record<string, ConsoleSession> = {};
  for (const { username, role, issuingPoints } of people) {
    const id = users.find((u) => u.username === username)?.id;
    if (!id) throw new Error(`${username} is not among the users`);
    await okBody(admins.secadmin, "PUT", `/api/console/users/${id}/grants`, {
      grants: [{ role }],
      issuingPoints,
    });
    const s = new ConsoleSession(url);
    const first = await s.login(username, made[username]!);
    if (first.status !== 200) throw new Error(`login ${username}: ${first.status} ${first.text}`);
    await okBody(s, "POST", "/api/console/password", {
      currentPassword: made[username],
      newPassword: GOOD_PASSWORD,
    });
    sessions[username] = s;
  }
  return sessions;
}

/** Where the browser specs write screenshots: test-results/console, or `PIAOJU_SCREENSHOTS=docs/images` for the README's. */
export const CONSOLE_SHOTS = resolve(REPO_ROOT, process.env.PIAOJU_SCREENSHOTS ?? "test-results/console");

export interface ConsoleRig {
  platform: { child: ChildProcess; url: string; out: () => string };
  browser: Browser;
  /** The first administrators' one-time passwords, as `piaoju start` printed them. */
  otp: Record<string, string>;
  /** Closes the browser, stops the platform (SIGTERM) and removes its data folder. */
  stop(): Promise<void>;
}

/**
 * What each browser spec of the console starts from: the console built, `piaoju start` (with
 * `env` added) in a data folder of its own, and Debian's Chromium (PIAOJU_CHROMIUM to use another).
 */
export async function startConsoleRig(name: string, env: Record<string, string> = {}): Promise<ConsoleRig> {
  mkdirSync(CONSOLE_SHOTS, { recursive: true });
  if (!consoleBuilt())
    execFileSync("pnpm", ["--filter", "@piaoju/console", "run", "build"], {
      cwd: REPO_ROOT,
      stdio: "ignore",
    });
  const dataDir = await mkdtemp(join(tmpdir(), `piaoju-${name}-`));
  const platform = await startPlatform(dataDir, env);
  const browser = await chromium.launch({
    executablePath: process.env.PIAOJU_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  return {
    platform,
    browser,
    otp: firstAdministratorPasswords(platform.out()),
    async stop() {
      await browser.close();
      if (platform.child.exitCode === null) {
        const exited = new Promise((r) => platform.child.once("exit", r));
        platform.child.kill("SIGTERM");
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
