import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FerryRejectionReport, FerrySpool } from "./ferry-spool.ts";

describe("ferry spool", () => {
  let dir: string;
  let ours: FerrySpool;
  let theirs: FerrySpool;
  const rejected: FerryRejectionReport[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-unit-"));
    const ca = await DevCa.create({ name: "boundary CA" });
    const identity = (name: string) => {
      const key = Sm2PrivateKey.generate();
      return {
        key,
        cert: ca.issue({ subject: { commonName: name }, publicKey: key.publicKey, usage: "sign+encrypt" }),
      };
    };
    const a = identity("agency end");
    const b = identity("finance end");
    // Our out is their in (a ferry that delivers at once), and the other way round.
    ours = new FerrySpool({
      outDir: join(dir, "ab"),
      inDir: join(dir, "ba"),
      self: a,
      peer: b.cert,
      trusted: [ca.certificate],
      onRejected: (r) => void rejected.push(r),
    });
    theirs = new FerrySpool({
      outDir: join(dir, "ba"),
      inDir: join(dir, "ab"),
      self: b,
      peer: a.cert,
      trusted: [ca.certificate],
    });
    await ours.recover();
    await theirs.recover();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("delivers a signed, enveloped message that only the peer opens, and keeps it until settled", async () => {
    await ours.write("11111111-1111-4111-8111-111111111111", { hello: "财政" });
    const raw = await readFile(join(dir, "ab", "11111111-1111-4111-8111-111111111111.p7m"));
    expect(raw.includes(Buffer.from("财政"))).toBe(false); // encrypted at rest on the ferry
    const first = await theirs.read();
    expect(first.map((f) => f.content)).toEqual([{ hello: "财政" }]);
    // Not settled (a crash before the commit): read again, same message.
    expect((await theirs.read()).map((f) => f.content)).toEqual([{ hello: "财政" }]);
    await first[0]!.settle();
    expect(await theirs.read()).toEqual([]);
  });

  it("clears half-written temporary files after a crash and never shows them to the reader", async () => {
    await writeFile(join(dir, "ab", ".tmp", "22222222-2222-4222-8222-222222222222.abcd.part"), "half a file");
    expect(await theirs.read()).toEqual([]);
    await ours.recover();
    expect(await readdir(join(dir, "ab", ".tmp"))).toEqual([]);
  });

  it("refuses its own outgoing file (wrong recipient) and a damaged one, reporting both", async () => {
    await ours.write("33333333-3333-4333-8333-333333333333", { n: 1 });
    const sealedForPeer = await readFile(join(dir, "ab", "33333333-3333-4333-8333-333333333333.p7m"));
    await writeFile(join(dir, "ba", "misrouted.p7m"), sealedForPeer);
    const damaged = Buffer.from(sealedForPeer);
    damaged[damaged.length - 5] = damaged[damaged.length - 5]! ^ 0x55;
    await writeFile(join(dir, "ba", "damaged.p7m"), damaged);
    expect(await ours.read()).toEqual([]);
    expect(rejected.map((r) => r.fileName).sort()).toEqual(["damaged.p7m", "misrouted.p7m"]);
    expect(rejected.find((r) => r.fileName === "misrouted.p7m")!.reason).toMatch(/^wrong recipient/);
    expect(await readdir(join(dir, "ba", ".rejected"))).toHaveLength(2);
  });
});
