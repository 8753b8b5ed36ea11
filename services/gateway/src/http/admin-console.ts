import { existsSync, statSync } from "node:fs";
import { join, normalize } from "node:path";
import fastifyStatic from "@fastify/static";
import { consoleBuilt, consoleDist } from "@piaoju/console";
import type { FastifyInstance, FastifyReply } from "fastify";

/** What the console's page may load: its own scripts and styles (antd writes style tags), its API, PDFs in a frame. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self' blob:",
  "object-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/**
 * 管理端: the admin console's single-page app under /admin (packages/console's build). A file of
 * the build is sent as it is (hashed names, cached for a year); any other path under /admin is the
 * app's own route and gets index.html (never cached), so a reload or a bookmark lands on its page.
 */
export async function registerAdminConsole(http: FastifyInstance): Promise<void> {
  // Its own plugin scope: reply.sendFile stays here, whatever else in the process serves files.
  await http.register(adminConsole);
}

async function adminConsole(http: FastifyInstance): Promise<void> {
  await http.register(fastifyStatic, { root: consoleDist, serve: false });
  const page = async (path: string, reply: FastifyReply) => {
    if (!consoleBuilt()) {
      return reply
        .status(503)
        .type("text/plain; charset=utf-8")
        .send(
          "管理端尚未构建：请运行 ./piaoju start（或 pnpm --filter @piaoju/console build）。\nThe console is not built: run ./piaoju start (or pnpm --filter @piaoju/console build).\n",
        );
    }
    reply.header("content-security-policy", CSP).header("x-content-type-options", "nosniff");
    const file = normalize(path).replace(/^(\.\.(\/|$))+/, "");
    const full = join(consoleDist, file);
    if (
      file &&
      file !== "index.html" &&
      full.startsWith(consoleDist) &&
      existsSync(full) &&
      statSync(full).isFile()
    ) {
      return reply.header("cache-control", "public, max-age=31536000, immutable").sendFile(file);
    }
    return reply.header("cache-control", "no-store").sendFile("index.html");
  };
  http.get("/admin", (_req, reply) => reply.redirect("/admin/", 302));
  http.get("/admin/*", (req, reply) => page((req.params as { "*": string })["*"] ?? "", reply));
}
