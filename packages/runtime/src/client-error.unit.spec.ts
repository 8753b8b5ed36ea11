import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpApp } from "./http.ts";
import { createLogger } from "./logger.ts";

// What Node's HTTP parser refuses before Fastify has a request: still a problem document, in both
// languages, naming the refusal (issue 9: an oversized header got Node's own text).
const app = createHttpApp({ logger: createLogger({ name: "t", level: "silent" }), readiness: () => [] });
app.get("/ok", async () => ({ ok: true }));
let port = 0;
beforeAll(async () => {
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(() => app.close());

/** Sends bytes on a fresh connection and reads everything until the server closes it. */
function raw(bytes: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      got += d;
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = got.split("\r\n\r\n");
      resolve({ status: Number(head.split(" ")[1]), headers: head.toLowerCase(), body });
    });
    socket.write(bytes);
  });
}

describe("refusals of the HTTP parser", () => {
  it("answers headers past the limit with 431 and a problem document", async () => {
    const res = await raw(`GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(res.headers).toContain("content-type: application/problem+json");
    expect(JSON.parse(res.body)).toMatchObject({
      status: 431,
      code: "HEADERS_TOO_LARGE",
      detailZh: "请求头过大，服务器无法处理",
    });
  });

  it("answers bytes that are not HTTP with 400 and a problem document", async () => {
    const res = await raw("NOT HTTP AT ALL\r\n\r\n");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ status: 400, code: "MALFORMED_REQUEST" });
  });

  it("still serves a request of normal size", async () => {
    const res = await raw("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(res.status).toBe(200);
  });
});
