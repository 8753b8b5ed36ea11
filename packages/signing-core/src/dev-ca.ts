import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Certificate, DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { KeystoreError, openPrivateKey, sealPrivateKey } from "./keystore.ts";

/**
 * The keystore's development CA, for `keystore-cli init`: gm-crypto's DevCa, kept in
 * `<keystore>/dev-ca/ca.key` (sealed like every key, under key id "dev-ca") and `ca.crt.pem`.
 * Development only: a real device's certificates come from a licensed CA (`import-cert`).
 */

const CA_KEY_ID = "dev-ca";

/** The keystore's dev CA, created on first use. */
export async function openOrCreateDevCa(keystoreDir: string, master: Uint8Array): Promise<DevCa> {
  const dir = join(keystoreDir, "dev-ca");
  const keyPath = join(dir, "ca.key");
  const certPath = join(dir, "ca.crt.pem");
  if (existsSync(keyPath) && existsSync(certPath)) {
    const key = Sm2PrivateKey.fromDer(openPrivateKey(CA_KEY_ID, readFileSync(keyPath), master));
    return DevCa.load(Certificate.fromPem(readFileSync(certPath, "utf8")), key);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await DevCa.create({ name: "Piaoju Dev CA", validDays: 3650 });
  writeFileSync(keyPath, sealPrivateKey(CA_KEY_ID, ca.privateKey, master), { mode: 0o600 });
  writeFileSync(certPath, ca.certificate.toPem());
  return ca;
}

export interface SubjectName {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
}

/** Reads an OpenSSL-style subject, "/C=CN/O=某某财政局/OU=…/CN=agency-110101". */
export function parseSubject(text: string): SubjectName {
  const parts = new Map<string, string>();
  for (const part of text.split("/").filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new KeystoreError(`subject "${text}": "${part}" is not KEY=value`);
    parts.set(part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).trim());
  }
  const unknown = [...parts.keys()].filter((k) => !["C", "O", "OU", "CN"].includes(k));
  if (unknown.length > 0) throw new KeystoreError(`subject "${text}": only C, O, OU and CN are supported`);
  const commonName = parts.get("CN");
  if (!commonName) throw new KeystoreError(`subject "${text}" has no CN`);
  const get = (k: string) => parts.get(k);
  return {
    commonName,
    ...(get("O") ? { organization: get("O") } : {}),
    ...(get("OU") ? { organizationalUnit: get("OU") } : {}),
    ...(get("C") ? { country: get("C") } : {}),
  };
}

/** Issues a signing + encryption certificate for `subjectKey`; returns the chain PEM (leaf, CA). */
export function issueCertificate(
  ca: DevCa,
  subjectKey: Sm2PrivateKey,
  subject: SubjectName,
  validDays = 825,
): string {
  const leaf = ca.issue({ subject, publicKey: subjectKey.publicKey, usage: "sign+encrypt", validDays });
  return `${leaf.toPem().trim()}\n${ca.certificate.toPem().trim()}\n`;
}
