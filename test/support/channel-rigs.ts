// The payment service's peers as its specs and the payment bench start them: the Alipay, WeChat
// Pay and UnionPay simulators with a merchant app / merchant whose RSA keys (and WeChat Pay's
// APIv3 key) are made here, at run time; a business system's callback receiver that checks every
// push's signature; and the payer's way through a channel's H5 pay pages without a browser. No
// test runner is needed (the bench imports this file from plain Node).
import { generateKeyPairSync, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { callbackStringToSign } from "@piaoju/business-client";
import {
  type AlipaySimulator,
  startAlipaySimulator,
  startUnionpaySimulator,
  startWechatSimulator,
  type UnionpaySimulator,
  type WechatSimulator,
} from "@piaoju/channel-simulator";
import { hmacSm3 } from "@piaoju/gm-crypto";
import { request } from "undici";

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

const unescapeHtml = (s: string) =>
  s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replaceAll("&amp;", "&");

/**
 * The payer on a channel's H5 pay pages, as a browser without script goes through them: opens
 * `payUrl` (the cashier's order answer), submits each page's form with its hidden fields, and
 * follows redirects, until it is back on the cashier's page (`backTo`'s path): Alipay's WAP page
 * and WeChat Pay's H5 page have one pay button and redirect to the return URL; UnionPay's goes
 * through our hand-over page (the signed frontTransReq form, posted to the gateway), its pay
 * button, and the signed result posted back to frontUrl (前台通知). Throws on any other answer.
 */
export async function payOnChannelPages(payUrl: string, backTo: string, maxSteps = 8): Promise<void> {
  const back = new URL(backTo).pathname;
  let at = new URL(payUrl);
  let body: string | undefined;
  for (let step = 0; step < maxSteps; step++) {
    const method = body === undefined ? "GET" : "POST";
    const res = await request(at, {
      method,
      ...(body === undefined
        ? {}
        : { body, headers: { "content-type": "application/x-www-form-urlencoded" } }),
    });
    if (res.statusCode >= 300 && res.statusCode < 400) {
      await res.body.dump();
      at = new URL(String(res.headers.location), at);
      body = undefined;
      continue;
    }
    const html = await res.body.text();
    if (res.statusCode !== 200)
      throw new Error(`${method} ${at.pathname}: ${res.statusCode} ${html.slice(0, 200)}`);
    if (at.pathname === back) return;
    const form = /<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
    if (!form) throw new Error(`${method} ${at.pathname}: no form on the page: ${html.slice(0, 200)}`);
    const fields = new URLSearchParams();
    for (const input of (form[2] ?? "").matchAll(
      /<input\b[^>]*\btype="hidden"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"/g,
    )) {
      fields.append(unescapeHtml(input[1] ?? ""), unescapeHtml(input[2] ?? ""));
    }
    at = new URL(unescapeHtml(form[1] ?? ""), at);
    body = fields.toString();
  }
  throw new Error(`not back at the cashier after ${maxSteps} pages (at ${at.pathname})`);
}
