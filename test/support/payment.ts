// The payment service's test harness: its peers (the channel simulators with merchants made at test
// time, a business system's callback receiver: test/support/channel-rigs.ts, shared with the
// payment bench) and the service in a test platform as its integration specs run it. It lives in
// test/support because it puts a service and a peer together.
import { randomBytes, randomUUID } from "node:crypto";
import type { Bus, Subscription } from "@piaoju/bus";
import { createEnvelope, type Envelope, ReceiptSigned, ReceiptSupervised, topics } from "@piaoju/contracts";
import type { ServiceModule } from "@piaoju/runtime";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { inject } from "vitest";
import { paymentService } from "../../services/payment/src/main.ts";

export {
  type AlipayRig,
  type Pushed,
  startAlipayRig,
  startCallbackReceiver,
  startUnionpayRig,
  startWechatRig,
  type UnionpayRig,
  type WechatRig,
} from "./channel-rigs.ts";

export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Finance's non-tax system as the payment service's peer: the finance simulator on a fresh test
 * database, with the agency registered and its HMAC-SM3 secret, as PIAOJU_NONTAX_* take them.
 */
export async function startNontaxPeer(agencyCode: string, regionCode = "230100") {
  const { createTestDatabase } = await import("@piaoju/persistence/testing");
  const { startFinanceSimulator, createAgencyClient } = await import("@piaoju/finance-simulator");
  const database = await createTestDatabase({ prefix: "nontax" });
  const sim = await startFinanceSimulator({ databaseUrl: database.url });
  const secret = `nontax-${agencyCode}-${"x".repeat(24)}`;
  await sim.admin.registerAgency(agencyCode, { name: `执收单位 ${agencyCode}`, secret, regionCode });
  const client = createAgencyClient({ url: sim.url, agencyCode, secret });
  return {
    sim,
    /** The notice as the non-tax system holds it (status, paid result). */
    notice: async (paymentCode: string) => (await client.get(`/fin/v1/nontax/notices/${paymentCode}`)).body,
    env: { PIAOJU_NONTAX_URL: sim.url, PIAOJU_NONTAX_AGENCY_SECRETS: `${agencyCode}=${secret}` },
    async stop() {
      await sim.close();
      await database.drop();
    },
  };
}

/** The income items of a traffic fine (交通违法罚款) and its late surcharge (加处罚款), as an agency registers them. */
export async function registerFineItems(
  ok: (method: string, path: string, body?: unknown) => Promise<unknown>,
  agencyCode: string,
): Promise<void> {
  for (const [code, name] of [
    ["FK01", "交通违法罚款"],
    ["FK02", "加处罚款"],
  ]) {
    await ok("POST", "/v1/issuance/items", { agencyCode, code, name, unit: "次", standardFen: null });
  }
}

/**
 * Plays the signing gateway and finance-exchange on the bus, as those services answer: every
 * receipt issuance asks to sign is signed (a random signature), and every one it submits for
 * supervision is supervised, so receipts reach ISSUED without devices or finance in the test.
 */
export function playSigningAndFinance(probe: Bus, agencyCode: string): Promise<Subscription> {
  return probe.subscribe({
    group: `play-${randomUUID().slice(0, 8)}`,
    topics: [topics.issuance],
    handler: async (m) => {
      const d = m.envelope.data as Record<string, string>;
      if (m.envelope.type === "issuance.ReceiptRequested") {
        const signed = {
          receiptId: d.receiptId!,
          agencyCode,
          documentSm3: d.documentSm3!,
          signature: randomBytes(96).toString("base64"),
          certificateSm3: "a".repeat(64),
          keyId: `agency-${agencyCode}`,
          signedAt: new Date().toISOString(),
        };
        await probe.publish([
          { topic: topics.signing, envelope: createEnvelope(ReceiptSigned, signed, { producer: "signing" }) },
        ]);
      } else if (m.envelope.type === "issuance.ReceiptSubmittedForSupervision") {
        const supervised = {
          receiptId: d.receiptId!,
          agencyCode,
          billCode: d.billCode!,
          number: d.number!,
          financeSignature: randomBytes(96).toString("base64"),
          financeCertificateSm3: "f".repeat(64),
          financeRef: `FIN-${d.number}`,
          supervisedAt: new Date().toISOString(),
        };
        await probe.publish([
          {
            topic: topics.finance,
            envelope: createEnvelope(ReceiptSupervised, supervised, { producer: "finance-exchange" }),
          },
        ]);
      }
    },
  });
}

/**
 * The payment service in a test platform as its integration specs run it: the settings every spec
 * shares (a sealing key of its own, a 100 ms background round) under the spec's own, every event
 * on the payment topic gathered into `events`, and, when given, a business system's callback
 * target registered as that app would (`PUT /v1/payment/callback-targets/:appId`).
 */
export async function startPaymentTestPlatform(options: {
  mode: "cluster" | "embedded";
  agencyCode: string;
  /** The caller of `t.call` when none is named (default: an operator of the agency). */
  caller?: Record<string, string>;
  env?: Record<string, string>;
  services?: ServiceModule[];
  events: Envelope[];
  callbacks?: { appId: string; url: string; secret: string };
}): Promise<{ t: TestPlatform; stop(): Promise<void> }> {
  const t = await startTestPlatform({
    mode: options.mode,
    services: options.services ?? [paymentService],
    kafkaBrokers: inject("kafkaBrokers"),
    caller: options.caller ?? { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": options.agencyCode },
    env: {
      PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
      PIAOJU_PAYMENT_POLL_MS: "100",
      ...options.env,
    },
  });
  const watch = await t.probe.subscribe({
    group: `watch-${randomUUID().slice(0, 8)}`,
    topics: [topics.payment],
    handler: async (m) => {
      options.events.push(m.envelope);
    },
  });
  if (options.callbacks) {
    const { appId, url, secret } = options.callbacks;
    const target = await t.call(
      "PUT",
      `/v1/payment/callback-targets/${appId}`,
      { agencyCode: options.agencyCode, url, secret },
      { "x-piaoju-actor": `app:${appId}`, "x-piaoju-agencies": options.agencyCode },
    );
    if (target.status !== 200)
      throw new Error(`callback target: ${target.status} ${JSON.stringify(target.body)}`);
  }
  return {
    t,
    async stop() {
      await watch.stop();
      await t.stop();
    },
  };
}
