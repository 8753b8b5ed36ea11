import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createEnvelope, ReceiptSupervised, signedContentOf, topics } from "@piaoju/contracts";
import { Certificate, createSignedData, type Sm2PrivateKey, sm3, verifySignedData } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { Keyring, Sealer } from "@piaoju/sealing";

/** Test support for backup and restore: the command as an operator runs it, and what a restore must keep. */

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(repoRoot, "services/runner/src/main.ts");

/** Runs `./piaoju backup|restore` (its TypeScript); resolves with the exit code and output. */
export async function piaojuBackupCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", CLI, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, ...env },
      },
    );
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** The files under `dir` that hold `secret` (as text or as the bytes it encodes in hex). */
export function filesHolding(dir: string, secret: string): string[] {
  const needles = [Buffer.from(secret), ...(/^[0-9a-f]+$/i.test(secret) ? [Buffer.from(secret, "hex")] : [])];
  return filesUnder(dir).filter((f) => {
    const bytes = readFileSync(f);
    return needles.some((n) => bytes.includes(n));
  });
}

export interface ReceiptRecord {
  id: string;
  number: string;
  status: string;
  documentSm3: string;
  document: Buffer;
  agencySignature: Buffer | null;
  financeSignature: Buffer | null;
  signingKeyId: string | null;
}

/**
 * Issuance's receipts, in number order, their documents opened with the secrets key (issuance
 * keeps them sealed: docs/adr/0015), as an operator holding the key would read a restored database.
 */
export async function receiptsOf(db: SqlExecutor, secretsKey: string): Promise<ReceiptRecord[]> {
  const sealer = new Sealer(Keyring.parse(secretsKey));
  const rows = await db.query<Record<string, unknown>>(
    `SELECT id::text, bill_code || '-' || lpad(number::text, 10, '0') AS number, status::text, document_sm3,
            document, agency_signature, finance_signature, signing_key_id
       FROM receipt ORDER BY bill_code, number`,
  );
  return rows.map((r) => ({
    id: String(r.id),
    number: String(r.number),
    status: String(r.status),
    documentSm3: String(r.document_sm3),
    document: sealer.unseal(`issuance/receipt/${String(r.id)}/document`, r.document as Uint8Array),
    agencySignature: r.agency_signature ? Buffer.from(r.agency_signature as Uint8Array) : null,
    financeSignature: r.finance_signature ? Buffer.from(r.finance_signature as Uint8Array) : null,
    signingKeyId: r.signing_key_id === null ? null : String(r.signing_key_id),
  }));
}

/**
 * What a restored receipt must be: its document the one hashed at issue, the agency's signature
 * valid over what it covers (Header + EInvoiceData from document version 1.2.0) and made with `agencyCertificate` (chaining to `agencyCa`), finance's valid over
 * it and made with the certificate finance names (chaining to `financeCa`).
 */
export function verifyReceiptSignatures(
  r: ReceiptRecord,
  certificates: {
    agencyCa: Certificate;
    agencyCertificate: Certificate;
    financeCa: Certificate;
    financeSm3: string;
  },
): { document: boolean; agency: boolean; finance: boolean } {
  const agency = r.agencySignature
    ? verifySignedData(r.agencySignature, {
        content: signedContentOf(r.document),
        trusted: [certificates.agencyCa],
      })
    : undefined;
  const finance = r.financeSignature
    ? verifySignedData(r.financeSignature, {
        content: signedContentOf(r.document),
        trusted: [certificates.financeCa],
      })
    : undefined;
  return {
    document: sm3(r.document).toString("hex") === r.documentSm3,
    agency: agency?.valid === true && agency.signer?.equals(certificates.agencyCertificate) === true,
    finance: finance?.valid === true && finance.signer?.fingerprintSm3() === certificates.financeSm3,
  };
}

export interface SigningCertificates {
  agencyCa: Certificate;
  agencyCertificate: Certificate;
  financeCa: Certificate;
  financeSm3: string;
}

/** The certificates of a keystore (its dev CA and agency 110101's) and finance's. */
export function signingCertificates(
  keystoreDir: string,
  finance: { ca: Certificate; sm3: string },
): SigningCertificates {
  return {
    agencyCa: certificateFromPemFile(join(keystoreDir, "dev-ca", "ca.crt.pem")),
    agencyCertificate: certificateFromPemFile(join(keystoreDir, "agency-110101.crt.pem")),
    financeCa: finance.ca,
    financeSm3: finance.sm3,
  };
}

/** Each receipt's checks, with its number: what a test expects to be all true. */
export function checksOf(receipts: ReceiptRecord[], certificates: SigningCertificates) {
  return receipts.map((r) => ({ number: r.number, ...verifyReceiptSignatures(r, certificates) }));
}

/** What checksOf gives for receipts that are all intact. */
export function allIntact(receipts: ReceiptRecord[]) {
  return receipts.map((r) => ({ number: r.number, document: true, agency: true, finance: true }));
}

export function certificateFromPemFile(path: string): Certificate {
  const [first] = Certificate.allFromPem(readFileSync(path, "utf8"));
  if (!first) throw new Error(`${path} holds no certificate`);
  return first;
}

/**
 * Finance's 监制 of a receipt as finance-exchange announces it (finance.ReceiptSupervised): a real
 * SM2 PKCS#7 over the receipt's document, signed with `finance`'s key.
 */
export function supervisionOf(
  r: ReceiptRecord,
  agencyCode: string,
  finance: { key: Sm2PrivateKey; certificate: Certificate },
) {
  const [billCode, number] = r.number.split("-") as [string, string];
  return {
    topic: topics.finance,
    envelope: createEnvelope(
      ReceiptSupervised,
      {
        receiptId: r.id,
        agencyCode,
        billCode,
        number,
        financeSignature: createSignedData({
          content: signedContentOf(r.document),
          detached: true,
          signerKey: finance.key,
          signerCert: finance.certificate,
        }).toString("base64"),
        financeCertificateSm3: finance.certificate.fingerprintSm3(),
        financeRef: `FIN-${r.number}`,
        supervisedAt: new Date().toISOString(),
      },
      { producer: "finance-exchange" },
    ),
  };
}
