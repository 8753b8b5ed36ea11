import { createHash, createSign, createVerify, type KeyObject, X509Certificate } from "node:crypto";

/**
 * UnionPay's 全渠道 (ACP) message rules for version 5.1.0, signMethod 01, written from the
 * protocol with node:crypto (there is no maintained UnionPay SDK for Node):
 * - the string to sign is every field but `signature`, as `key=value`, sorted by key, joined
 *   with `&` (empty fields are left out of a request before it is signed);
 * - the signature is base64(SHA256withRSA(lower-case hex SHA-256 of that string, as UTF-8 bytes))
 *   with the merchant's signing key; its certificate's serial, in decimal, is `certId`;
 * - an answer or a notify carries UnionPay's signing certificate in `signPubKeyCert` (PEM): it is
 *   trusted only when it is in its validity period, issued by the configured middle certificate,
 *   which the configured root issued, and its CN's third `@` part is 中国银联股份有限公司.
 */
export const ACP_VERSION = "5.1.0";
export const SIGN_METHOD_RSA = "01";
/** The owner a UnionPay signing certificate names in its CN (`041@…@中国银联股份有限公司@…`). */
export const UNIONPAY_CN_NAME = "中国银联股份有限公司";

export type AcpFields = Record<string, string>;

export function signingString(fields: AcpFields): string {
  return Object.keys(fields)
    .filter((k) => k !== "signature")
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join("&");
}

function digestHex(fields: AcpFields): string {
  return createHash("sha256").update(signingString(fields), "utf8").digest("hex");
}

/** The request's fields with `signature` added; blank fields are dropped first, as the SDKs do. */
export function signFields(fields: AcpFields, key: KeyObject): AcpFields {
  const kept: AcpFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k !== "signature" && v.trim() !== "") kept[k] = v.trim();
  }
  const signature = createSign("RSA-SHA256").update(digestHex(kept), "utf8").sign(key, "base64");
  return { ...kept, signature };
}

/** Whether `signature` holds over the other fields with this public key. */
export function verifySignature(fields: AcpFields, key: KeyObject): boolean {
  const signature = fields.signature;
  if (!signature) return false;
  try {
    return createVerify("RSA-SHA256").update(digestHex(fields), "utf8").verify(key, signature, "base64");
  } catch {
    return false;
  }
}

export interface TrustAnchors {
  root: X509Certificate;
  middle: X509Certificate;
}

export function readAnchors(rootPem: string, middlePem: string): TrustAnchors {
  return { root: new X509Certificate(rootPem), middle: new X509Certificate(middlePem) };
}

/** The CN of a certificate's subject (Node prints one attribute a line). */
function commonName(cert: X509Certificate): string | undefined {
  const line = cert.subject.split("\n").find((l) => l.startsWith("CN="));
  return line?.slice(3);
}

/**
 * UnionPay's signing certificate from a message, when its chain and owner hold at `now`;
 * undefined otherwise (expired, issued by anyone else, or another company's).
 */
export function trustedSigningCert(
  pem: string | undefined,
  anchors: TrustAnchors,
  now: Date,
): X509Certificate | undefined {
  if (!pem?.includes("BEGIN CERTIFICATE")) return undefined;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const within = (c: X509Certificate) =>
    new Date(c.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(c.validTo).getTime();
  const { root, middle } = anchors;
  if (!within(cert) || !within(middle) || !within(root)) return undefined;
  if (cert.ca || !middle.ca || !root.ca) return undefined;
  if (!cert.checkIssued(middle) || !cert.verify(middle.publicKey)) return undefined;
  if (!middle.checkIssued(root) || !middle.verify(root.publicKey)) return undefined;
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) return undefined;
  if (commonName(cert)?.split("@")[2] !== UNIONPAY_CN_NAME) return undefined;
  return cert;
}

/** A message's signature checked with the signing certificate it carries, that certificate first. */
export function verifyFromUnionpay(fields: AcpFields, anchors: TrustAnchors, now: Date): boolean {
  if (fields.version !== ACP_VERSION || fields.signMethod !== SIGN_METHOD_RSA) return false;
  const cert = trustedSigningCert(fields.signPubKeyCert, anchors, now);
  return cert ? verifySignature(fields, cert.publicKey) : false;
}

/**
 * A synchronous answer's body: `key=value&…` NOT percent-encoded (UnionPay's SDKs read it so); an
 * `&` inside `{…}` or `[…]` belongs to the value. Undefined for a key given twice or no key.
 */
export function parseAnswer(text: string): AcpFields | undefined {
  const out: AcpFields = {};
  let key = "";
  let value = "";
  let inKey = true;
  let close = "";
  const put = () => {
    if (key.length === 0 || Object.hasOwn(out, key)) return false;
    out[key] = value;
    return true;
  };
  for (const ch of text) {
    if (inKey) {
      if (ch === "=") inKey = false;
      else key += ch;
      continue;
    }
    if (close) {
      if (ch === close) close = "";
    } else if (ch === "{") close = "}";
    else if (ch === "[") close = "]";
    if (ch === "&" && !close) {
      if (!put()) return undefined;
      key = "";
      value = "";
      inKey = true;
    } else value += ch;
  }
  if (key.length > 0 || !inKey) {
    if (inKey) return undefined;
    if (!put()) return undefined;
  }
  return out;
}

/** A notify's body: an application/x-www-form-urlencoded form (UTF-8). Undefined for a repeated key. */
export function parseForm(body: string): AcpFields | undefined {
  const out: AcpFields = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (Object.hasOwn(out, k)) return undefined;
    out[k] = v;
  }
  return out;
}

export function encodeForm(fields: AcpFields): string {
  return new URLSearchParams(fields).toString();
}

const shanghai = (at: Date) => new Date(at.getTime() + 8 * 3_600_000).toISOString();

/** txnTime and payTimeout: yyyyMMddHHmmss in Beijing time. */
export function acpTime(at: Date): string {
  const s = shanghai(at);
  return `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}`;
}

/** yyyyMMddHHmmss (Beijing) to an instant; undefined when it is not one. */
export function fromAcpTime(text: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text ?? "");
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * traceTime (MMDDhhmmss, Beijing, no year) to an instant near `near`: the year is the one that
 * puts it closest to `near` (a 12-31 trace read on 01-01 is last year's).
 */
export function fromTraceTime(text: string | undefined, near: Date): Date | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text ?? "");
  if (!m) return undefined;
  const year = Number(shanghai(near).slice(0, 4));
  let best: Date | undefined;
  for (const y of [year - 1, year, year + 1]) {
    const d = new Date(`${y}-${m[1]}-${m[2]}T${m[3]}:${m[4]}:${m[5]}+08:00`);
    if (Number.isNaN(d.getTime())) continue;
    if (!best || Math.abs(d.getTime() - near.getTime()) < Math.abs(best.getTime() - near.getTime())) best = d;
  }
  return best;
}
