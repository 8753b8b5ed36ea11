// The payment service's test harness: the Alipay, WeChat Pay and UnionPay simulators (its peers) with a
// merchant app / merchant whose RSA keys (and WeChat Pay's APIv3 key) are made here, at test time, and a business system's callback receiver that checks
// every push's signature. It lives in test/support because it puts a service and a peer together.
import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Bus, Subscription } from "@piaoju/bus";
import { callbackStringToSign } from "@piaoju/business-client";
import {
  type AlipaySimulator,
  startAlipaySimulator,
  startUnionpaySimulator,
  startWechatSimulator,
  type UnionpaySimulator,
  type WechatSimulator,
} from "@piaoju/channel-simulator";
import { createEnvelope, type Envelope, ReceiptSigned, ReceiptSupervised, topics } from "@piaoju/contracts";
import { hmacSm3 } from "@piaoju/gm-crypto";
import type { ServiceModule } from "@piaoju/runtime";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { inject } from "vitest";
import { paymentService } from "../../services/payment/src/main.ts";

export interface AlipayRig {
  sim: AlipaySimulator;
  /** The agency's merchant account, as PUT /v1/payment/channel-accounts/alipay takes it. */
  account: { accountId: string; config: { privateKey: string; alipayPublicKey: string; gateway: string } };
  /** The merchant's private key, to prove it never shows in logs or answers. */
  privateKey: string;
}

export async function startAlipayRig(
  appId = "2021004100000001",
  options: { serviceFeePermille?: number } = {},
): Promise<AlipayRig> {
  const sim = await startAlipaySimulator({ notifyRetryMs: [150, 300, 600, 1200], ...options });
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  sim.registerApp(appId, publicKey.export({ type: "spki", format: "pem" }).toString());
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return {
    sim,
    privateKey: pem,
    account: {
      accountId: appId,
      config: { privateKey: pem, alipayPublicKey: sim.alipayPublicKey, gateway: sim.gatewayUrl },
    },
  };
}

export interface WechatRig {
  sim: WechatSimulator;
  /** The agency's merchant account, as PUT /v1/payment/channel-accounts/wechat takes it. */
  account: {
    accountId: string;
    config: {
      appId: string;
      serialNo: string;
      privateKey: string;
      platformSerial: string;
      platformPublicKey: string;
      apiV3Key: string;
      baseUrl: string;
    };
  };
  /** The merchant's API private key and APIv3 key, to prove they never show in logs or answers. */
  privateKey: string;
  apiV3Key: string;
}

/**
 * WeChat Pay's simulator with a merchant registered as the merchant platform would have it: the
 * API certificate's public key and serial, the APIv3 key, the appid bound to the mchid.
 */
export async function startWechatRig(mchid = "1900000109"): Promise<WechatRig> {
  const sim = await startWechatSimulator({ notifyRetryMs: [150, 300, 600, 1200] });
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const serialNo = randomBytes(20).toString("hex").toUpperCase();
  const apiV3Key = randomBytes(16).toString("hex");
  const appId = `wx${randomBytes(8).toString("hex")}`;
  sim.registerMerchant({
    mchid,
    appid: appId,
    serialNo,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    apiV3Key,
  });
  return {
    sim,
    privateKey: pem,
    apiV3Key,
    account: {
      accountId: mchid,
      config: {
        appId,
        serialNo,
        privateKey: pem,
        platformSerial: sim.platformSerial,
        platformPublicKey: sim.platformPublicKey,
        apiV3Key,
        baseUrl: sim.baseUrl,
      },
    },
  };
}

export interface UnionpayRig {
  sim: UnionpaySimulator;
  /** The agency's merchant account, as PUT /v1/payment/channel-accounts/unionpay takes it. */
  account: {
    accountId: string;
    config: {
      certId: string;
      privateKey: string;
      rootCert: string;
      middleCert: string;
      gatewayUrl: string;
      fileUrl: string;
    };
  };
  /** The merchant's signing key, to prove it never shows in logs or answers. */
  privateKey: string;
}

/**
 * UnionPay's simulator with a merchant registered as UnionPay's merchant service would have it:
 * the signing certificate's public key, and its serial (certId) answered back; the merchant trusts
 * UnionPay's answers by the simulator's root and middle certificates.
 */
export async function startUnionpayRig(merId = "898110248160001"): Promise<UnionpayRig> {
  const sim = await startUnionpaySimulator({ notifyRetryMs: [150, 300, 600, 1200] });
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const { certId } = sim.registerMerchant(
    merId,
    publicKey.export({ type: "spki", format: "pem" }).toString(),
  );
  return {
    sim,
    privateKey: pem,
    account: {
      accountId: merId,
      config: {
        certId,
        privateKey: pem,
        rootCert: sim.rootCert,
        middleCert: sim.middleCert,
        gatewayUrl: sim.gatewayUrl,
        fileUrl: sim.fileUrl,
      },
    },
  };
}

export interface Pushed {
  deliveryId: string;
  body: Record<string, unknown>;
}

/**
 * A business system's end of the result callbacks: verifies X-Piaoju-Signature with the shared
 * secret (a push that does not verify is answered 401 and not recorded), answers 503 to the first
 * `failFirst` pushes so retries show, and keeps one entry per delivery id (duplicates dropped).
 */
export async function startCallbackReceiver(secret: string, failFirst = 0) {
  const received = new Map<string, Pushed>();
  let tries = 0;
  let badSignatures = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      tries++;
      const body = Buffer.concat(chunks);
      const timestamp = String(req.headers["x-piaoju-timestamp"] ?? "");
      const deliveryId = String(req.headers["x-piaoju-delivery"] ?? "");
      const presented = Buffer.from(String(req.headers["x-piaoju-signature"] ?? ""), "hex");
      const expected = hmacSm3(Buffer.from(secret), callbackStringToSign(timestamp, deliveryId, body));
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        badSignatures++;
        res.writeHead(401).end();
        return;
      }
      if (tries <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      received.set(deliveryId, {
        deliveryId,
        body: JSON.parse(body.toString("utf8")) as Record<string, unknown>,
      });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/piaoju/payment-results`,
    received,
    get tries() {
      return tries;
    },
    get badSignatures() {
      return badSignatures;
    },
    find: (event: string, paymentId: string) =>
      [...received.values()].find((p) => p.body.event === event && p.body.paymentId === paymentId),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
