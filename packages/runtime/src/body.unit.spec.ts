import fc from "fast-check";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_JSON_DEPTH, readJsonBody, signedJsonBody } from "./body.ts";
import { AppError } from "./errors.ts";
import { createHttpApp } from "./http.ts";

const app = createHttpApp({ logger: pino({ level: "silent" }), readiness: () => [], bodyLimit: 64 * 1024 });
app.post("/echo", async (req) => ({ body: req.body ?? null, raw: req.rawBody?.toString("utf8") ?? null }));
app.get("/echo/:p", async (req) => ({ query: req.query, params: req.params }));
app.get("/rest/*", async (req) => ({ params: req.params }));
app.post("/signed", { config: { signedBody: true } }, async (req) => ({
  before: req.body ?? null,
  after: signedJsonBody(req) ?? null,
}));
afterAll(() => app.close());

const post = (payload: string | Buffer, contentType = "application/json", url = "/echo") =>
  app.inject({ method: "POST", url, headers: { "content-type": contentType }, payload });

function issuesOf(error: unknown) {
  expect(error).toBeInstanceOf(AppError);
  return (error as AppError).details.issues ?? [];
}

describe("the one JSON body reader", () => {
  it("refuses nesting past the limit before any recursive work, at any depth up to 10 000", async () => {
    for (const depth of [DEFAULT_MAX_JSON_DEPTH + 1, 5_000, 10_000]) {
      const body = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
      const res = await post(body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ issues: [{ field: "body", rule: "max_depth" }] });
      const arrays = await post(`${"[".repeat(depth)}${"]".repeat(depth)}`);
      expect(arrays.statusCode).toBe(400);
    }
    const ok = `${'{"a":'.repeat(DEFAULT_MAX_JSON_DEPTH)}1${"}".repeat(DEFAULT_MAX_JSON_DEPTH)}`;
    expect((await post(ok)).statusCode).toBe(200);
  });

  it("names the field of every string the platform cannot store, keys included, in body, query and path", async () => {
    for (const bad of ["\u0000", "\u0001", "\u001b", "\ufffe", "\uffff", "\ud800", "\udc00x"]) {
      const res = await post(
        JSON.stringify({ payer: { name: `张${bad}三` }, items: [{ c: "ok" }, { c: bad }] }),
      );
      expect(res.statusCode).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().issues.map((i: { field: string }) => i.field)).toEqual([
        "body.payer.name",
        "body.items.1.c",
      ]);
      const key = await post(`{"a${JSON.stringify(bad).slice(1, -1)}":1}`);
      expect(key.statusCode).toBe(400);
    }
    const q = await app.inject({ method: "GET", url: "/echo/x%00y?name=a%01b" });
    expect(q.statusCode).toBe(400);
    expect(q.json().issues.map((i: { field: string }) => i.field)).toEqual(["query.name"]);
    const p = await app.inject({ method: "GET", url: "/echo/x%00y" });
    expect(p.json().issues.map((i: { field: string }) => i.field)).toEqual(["params.p"]);
    // A wildcard's rest of the path has no name of its own: the path is named.
    const rest = await app.inject({ method: "GET", url: "/rest/v1/receipts/x%00y" });
    expect(rest.statusCode).toBe(400);
    expect(rest.json().issues.map((i: { field: string }) => i.field)).toEqual(["path"]);
    // Tab, LF, CR and every other character are text.
    const fine = await post(JSON.stringify({ t: "a\tb\nc\rd 张 \u{1F600} \u0085 \ufffd" }));
    expect(fine.statusCode).toBe(200);
  });

  it("refuses a key twice in one object, naming it; JSON.parse would keep the last silently", async () => {
    const res = await post('{"payer":{"name":"a","name":"b"}}');
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([
      expect.objectContaining({ field: "body.payer.name", rule: "duplicate_field" }),
    ]);
    expect(issuesOf(catchOf(() => readJsonBody(Buffer.from('{"a":[{"x":1},{"x":2,"\\u0078":3}]}'))))).toEqual(
      [expect.objectContaining({ field: "body.a.1.x" })],
    );
    // The same key in sibling objects, and strings that look like keys, are fine.
    expect(readJsonBody(Buffer.from('{"a":{"x":1},"b":{"x":2},"c":["x","x"],"d":"\\"x\\":"}'))).toBeTruthy();
  });

  it("refuses bytes that are not UTF-8, JSON that does not parse, and a body past the size limit", async () => {
    expect(
      (await post(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).json(),
    ).toMatchObject({
      status: 400,
      issues: [{ field: "body", rule: "utf8" }],
    });
    expect((await post(Buffer.from('{"a":"\xed\xa0\x80"}', "latin1"))).statusCode).toBe(400);
    expect((await post("{")).json()).toMatchObject({
      status: 400,
      issues: [{ field: "body", rule: "json" }],
    });
    const big = await post(JSON.stringify({ a: "x".repeat(70 * 1024) }));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ issues: [{ field: "body", rule: "max_bytes" }] });
  });

  it("takes JSON only: any other content type is 415 naming the header, before a handler runs", async () => {
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/xml",
      "multipart/form-data",
    ]) {
      const res = await post("{}", type);
      expect(res.statusCode).toBe(415);
      expect(res.json()).toMatchObject({ status: 415, issues: [{ field: "header.content-type" }] });
    }
    const utf16 = await post("{}", "application/json; charset=utf-16");
    expect(utf16.statusCode).toBe(415);
    const kept = await post('{"a": 1}', "application/json; charset=utf-8");
    expect(kept.json()).toEqual({ body: { a: 1 }, raw: '{"a": 1}' });
  });

  it("keeps a signed route's body raw until the handler asks, then applies the same checks", async () => {
    const res = await post('{"a":1}', "application/json", "/signed");
    expect(res.json()).toEqual({ before: null, after: { a: 1 } });
    const deep = await post(`${"[".repeat(5000)}${"]".repeat(5000)}`, "application/json", "/signed");
    expect(deep.statusCode).toBe(400);
  });

  it("any JSON value within the limits reads back as JSON.parse reads it, or is refused by name", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const raw = Buffer.from(JSON.stringify(value));
        try {
          expect(readJsonBody(raw)).toEqual(JSON.parse(raw.toString()));
        } catch (error) {
          for (const issue of issuesOf(error)) expect(issue.field).toMatch(/^body/);
        }
      }),
      { seed: 9, numRuns: 300 },
    );
  });
});

function catchOf(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error("did not throw");
}
