import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ExchangeHarness,
  startExchangeHarness,
  waitFor,
} from "../../../test/support/finance-exchange.ts";
import type { AnswerMessage } from "./domain/messages.ts";
import { FerrySpool } from "./transport/ferry-spool.ts";

/**
 * The boundary ferry under attack and faults: a forger answers in finance's name, request
 * files are misrouted back to the daemon (not for it), answers are corrupted on the way, a
 * stranger's request reaches finance. Each bad file is refused and reported; no receipt is
 * lost or decided twice, because the daemon asks again and applies the genuine answer once.
 */
describe("boundary ferry with tampered files", () => {
  let h: ExchangeHarness;
  const forgeries: string[] = [];
  let misrouted = 0;
  let corrupted = 0;
  /**
   * Finance's end answers a repeated request with the same answer id, so two damaged files can
   * share a name; the daemon keeps one report per file name.
   */
  const damagedNames = new Set<string>();
  /** The files the forger and the misrouting ferry dropped straight into the daemon's spool. */
  const forgedFiles = new Set<string>();
  const misroutedFiles = new Set<string>();
  let forger: { key: Sm2PrivateKey; ca: DevCa };

  beforeAll(async () => {
    const ca = await DevCa.create({ name: "not the boundary CA" });
    forger = { key: Sm2PrivateKey.generate(), ca };
    h = await startExchangeHarness({
      transport: "ferry",
      kafkaBrokers: inject("kafkaBrokers"),
      mover: {
        maxDelayMs: 200,
        duplicateRate: 0.25,
        tamper: async ({ route, name, bytes }) => {
          const rig = h?.ferry;
          if (!rig) return undefined;
          if (route === 0 && forgeries.length < 3) {
            // A forger sees a request go by (named by its id) and answers it in finance's name.
            const requestId = name.replace(/\.p7m$/, "");
            await forgeAnswer(rig.daemonIn, requestId);
            forgeries.push(requestId);
          }
          if (route === 0 && misrouted < 3) {
            // The ferry delivers a copy of a request to the wrong side: it is not enveloped for the daemon.
            misrouted++;
            const file = `misrouted-${randomUUID()}.p7m`;
            misroutedFiles.add(file);
            await writeFile(join(rig.daemonIn, file), bytes);
          }
          if (route === 1 && corrupted < 2) {
            // An answer is damaged on the way (one byte in the middle flipped).
            corrupted++;
            damagedNames.add(name);
            const damaged = Buffer.from(bytes);
            const at = Math.floor(damaged.length / 2);
            damaged[at] = damaged[at]! ^ 0xff;
            return damaged;
          }
          return undefined;
        },
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** An answer sealed to the daemon (anyone may encrypt to its certificate) but signed by the forger. */
  async function forgeAnswer(daemonIn: string, requestId: string): Promise<void> {
    const rig = h.ferry!;
    const cert = forger.ca.issue({
      subject: { commonName: "finance boundary endpoint" },
      publicKey: forger.key.publicKey,
      usage: "sign+encrypt",
    });
    const sealer = new FerrySpool({
      outDir: join(rig.dir, "forger/out"),
      inDir: join(rig.dir, "forger/in"),
      self: { key: forger.key, cert },
      peer: rig.daemon.cert,
    });
    const forged: AnswerMessage = {
      id: randomUUID(),
      requestId,
      operation: "applyStock",
      answeredAt: new Date().toISOString(),
      result: { ok: false, code: "FORGED", message: "refused by a forger" },
    };
    forgedFiles.add(`${forged.id}.p7m`);
    await writeFile(join(daemonIn, `${forged.id}.p7m`), sealer.seal(forged));
  }

  it("refuses forged, misrouted and damaged files, reports each, and still supervises every receipt exactly once", async () => {
    const numbers = await h.issueNumbers(30);
    const ids = await h.submit(numbers);
    await waitFor(
      () => {
        const o = h.outcomes();
        return ids.every((id) => o.has(id));
      },
      90_000,
      "every receipt to be decided",
    );
    await new Promise((r) => setTimeout(r, 1500));
    const outcomes = h.outcomes();
    for (const id of ids) expect(outcomes.get(id)).toMatchObject({ supervised: 1, rejected: 0 });

    const reported = await waitFor(
      async () => {
        const r = await h.test.call("GET", "/v1/finance-exchange/ferry/rejections");
        const items = r.body.items as Array<{ fileName: string; reason: string }>;
        const names = new Set(items.map((i) => i.fileName));
        const damagedSeen = new Set(items.map((i) => i.fileName.replace(/\.copy\d+\.p7m$/, ".p7m")));
        const all =
          [...forgedFiles, ...misroutedFiles].every((f) => names.has(f)) &&
          [...damagedNames].every((n) => damagedSeen.has(n));
        return all ? items : undefined;
      },
      30_000,
      "the rejections to be reported",
    );
    console.log(
      `ferry: ${forgeries.length} forged, ${misrouted} misrouted, ${corrupted} damaged files; ` +
        `mover picked ${h.ferry!.mover.counts.picked}, delivered ${h.ferry!.mover.counts.delivered} ` +
        `(${h.ferry!.mover.counts.duplicated} twice); finance side answered ${h.ferry!.financeSide.counts.requests} ` +
        `requests, ${h.ferry!.financeSide.counts.duplicates} repeats\n` +
        reported.map((r) => `  refused ${r.fileName}: ${r.reason}`).join("\n"),
    );
    // Forged: the signer does not chain to the boundary CA. Misrouted: not enveloped for the daemon.
    // Damaged: the SM4 ciphertext no longer yields what was signed (or no envelope at all). The
    // mover may deliver a damaged file twice (".copy1"), and finance's end may answer a repeated
    // request under the same name, so damaged files are matched by name, not counted.
    const reasonOf = (file: string) => reported.find((r) => r.fileName === file)?.reason;
    for (const file of forgedFiles) expect(reasonOf(file)).toMatch(/^bad signature: .*not the boundary CA/);
    for (const file of misroutedFiles) expect(reasonOf(file)).toMatch(/^wrong recipient/);
    const damagedReports = reported.filter(
      (r) => !forgedFiles.has(r.fileName) && !misroutedFiles.has(r.fileName),
    );
    expect(damagedReports.length).toBeGreaterThanOrEqual(damagedNames.size);
    for (const r of damagedReports) {
      expect(damagedNames).toContain(r.fileName.replace(/\.copy\d+\.p7m$/, ".p7m"));
      expect(r.reason).toMatch(/^(bad signature|wrong recipient|not an envelope)/);
    }
    expect(forgedFiles.size).toBe(forgeries.length);
    expect(misroutedFiles.size).toBe(misrouted);
    // The forged refusals were never applied: the stock application the first one targeted was approved.
    const events = h.financeEvents.filter((e) => e.type === "finance.SegmentIssued");
    expect(events).toHaveLength(1);
  });

  it("finance's end refuses a request signed by anyone but the daemon, and nothing comes of it", async () => {
    const rig = h.ferry!;
    const cert = forger.ca.issue({
      subject: { commonName: "piaoju finance-exchange" },
      publicKey: forger.key.publicKey,
      usage: "sign+encrypt",
    });
    const impostor = new FerrySpool({
      outDir: join(rig.dir, "impostor/out"),
      inDir: join(rig.dir, "impostor/in"),
      self: { key: forger.key, cert },
      peer: rig.financeIdentity.cert,
    });
    const request = {
      id: randomUUID(),
      operation: "applyStock",
      payload: { applicationId: randomUUID(), agencyCode: "110101", billCode: "11010126", quantity: 1000 },
      sentAt: new Date().toISOString(),
    };
    const before = rig.financeSide.rejections.length;
    await writeFile(join(rig.financeIn, `${request.id}.p7m`), impostor.seal(request));
    const refused = await waitFor(
      () => (rig.financeSide.rejections.length > before ? rig.financeSide.rejections.at(-1) : undefined),
      15_000,
      "finance's end to refuse the impostor",
    );
    expect(refused.reason).toMatch(/^bad signature/);
    const applications = await h.sim.admin.listApplications();
    expect(applications.items).toHaveLength(1);
  });
});
