// Removes from a production node_modules the development tools that pnpm links as resolved optional
// peers: @prisma/client names the Prisma CLI and TypeScript as optional peers, and because the
// workspace has both (as development dependencies) pnpm installs them even with --prod. The
// generated client never loads either at run time. Everything reachable from the workspace's
// packages without passing through them stays; the rest of node_modules/.pnpm goes.
// Plain JavaScript: it runs in the image build, before anything can compile TypeScript.
//   node deploy/image/prune-dev-peers.mjs <root>
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join, relative, sep } from "node:path";

const DEV_PEERS = new Set(["prisma", "typescript"]);
const root = process.argv[2] ?? ".";
const store = join(root, "node_modules", ".pnpm");

/** The store entry (`.pnpm/<entry>`) a node_modules link points into, if any. */
function entryOf(link) {
  const real = realpathSync(link);
  const rel = relative(store, real);
  return rel.startsWith("..") ? undefined : rel.split(sep)[0];
}

/** name → path of every package linked in a node_modules folder (scoped ones included). */
function linked(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === ".pnpm" || name.startsWith(".")) continue;
    if (name.startsWith("@")) {
      for (const sub of readdirSync(join(dir, name))) out.push([`${name}/${sub}`, join(dir, name, sub)]);
    } else out.push([name, join(dir, name)]);
  }
  return out;
}

// The workspace's projects, from pnpm-workspace.yaml's `packages:` list ("services/*", "test", …).
const yaml = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
const block = /^packages:\n((?:[ \t]+-.*\n?)+)/m.exec(yaml)?.[1] ?? "";
const globs = [...block.matchAll(/-\s*"?([^"\n]+?)"?\s*$/gm)].map((m) => m[1]);
const projects = [root];
for (const glob of globs) {
  const dir = join(root, glob.replace(/\/\*$/, ""));
  if (!existsSync(dir)) continue;
  if (!glob.endsWith("/*")) projects.push(dir);
  else
    for (const name of readdirSync(dir))
      if (existsSync(join(dir, name, "package.json"))) projects.push(join(dir, name));
}

const reached = new Set();
const queue = [];
for (const project of projects) {
  for (const [name, path] of linked(join(project, "node_modules"))) {
    if (DEV_PEERS.has(name) || !lstatSync(path).isSymbolicLink()) continue;
    const entry = entryOf(path);
    if (entry && !reached.has(entry)) {
      reached.add(entry);
      queue.push(entry);
    }
  }
}
while (queue.length > 0) {
  const entry = queue.pop();
  for (const [name, path] of linked(join(store, entry, "node_modules"))) {
    if (DEV_PEERS.has(name) || !lstatSync(path).isSymbolicLink()) continue;
    const next = entryOf(path);
    if (next && !reached.has(next)) {
      reached.add(next);
      queue.push(next);
    }
  }
}
let removed = 0;
for (const entry of readdirSync(store)) {
  if (entry === "node_modules" || entry.startsWith("lock") || reached.has(entry)) continue;
  rmSync(join(store, entry), { recursive: true, force: true });
  removed++;
}
console.log(
  `prune-dev-peers: kept ${reached.size} packages, removed ${removed} (${[...DEV_PEERS].join(", ")} and what only they need)`,
);
