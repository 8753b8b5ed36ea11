/**
 * Interop with the openssl CLI (OpenSSL 3, an implementation nobody here wrote), both ways:
 * signatures through `pkeyutl -rawin -digest sm3 -pkeyopt distid:…`, encryption through
 * `pkeyutl -encrypt/-decrypt` (GM/T 0009 ASN.1 ciphertexts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decrypt, encrypt } from "./encryption.ts";
import { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { computeDigest, sign, signDigest, verify, verifyDigest } from "./signature.ts";
import { certificationRequestPem, createCertificationRequest } from "./x509.ts";

const dir = mkdtempSync(join(tmpdir(), "gm-openssl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function tmp(content?: Uint8Array | string): string {
  const file = join(dir, `f${seq++}`);
  if (content !== undefined) writeFileSync(file, content);
  return file;
}

function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

const keyFile = tmp();
openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", keyFile]);
const pubFile = tmp(openssl(["pkey", "-in", keyFile, "-pubout"]));
const key = Sm2PrivateKey.fromPem(readFileSync(keyFile, "utf8"));
const pub = Sm2PublicKey.fromPem(readFileSync(pubFile, "utf8"));

function opensslVerifies(message: Buffer, signatureDer: Buffer, userId: string): boolean {
  try {
    openssl([
      "pkeyutl",
      "-verify",
      "-rawin",
      "-digest",
      "sm3",
      "-pkeyopt",
      `distid:${userId}`,
      "-pubin",
      "-inkey",
      pubFile,
      "-in",
      tmp(message),
      "-sigfile",
      tmp(signatureDer),
    ]);
    return true;
  } catch {
    return false;
  }
}

function opensslSigns(message: Buffer, userId: string): Buffer {
  const out = tmp();
  openssl([
    "pkeyutl",
    "-sign",
    "-rawin",
    "-digest",
    "sm3",
    "-pkeyopt",
    `distid:${userId}`,
    "-inkey",
    keyFile,
    "-in",
    tmp(message),
    "-out",
    out,
  ]);
  return readFileSync(out);
}

const message = Buffer.from("<receipt no='001'>一百元整</receipt>");

describe("interop with the openssl CLI: signatures", () => {
  it("openssl verifies our DER signatures with the default user ID", () => {
    expect(opensslVerifies(message, sign(message, key), "1234567812345678")).toBe(true);
  });

  it("openssl verifies our signatures with a custom user ID, and not under the default one", () => {
    const sig = sign(message, key, { userId: "piaoju-signer-01" });
    expect(opensslVerifies(message, sig, "piaoju-signer-01")).toBe(true);
    expect(opensslVerifies(message, sig, "1234567812345678")).toBe(false);
  });

  it("openssl verifies signatures made from a precomputed digest", () => {
    expect(opensslVerifies(message, signDigest(computeDigest(message, pub), key), "1234567812345678")).toBe(
      true,
    );
  });

  it("openssl rejects our signature on another message (the check is real)", () => {
    expect(opensslVerifies(Buffer.from("other"), sign(message, key), "1234567812345678")).toBe(false);
  });

  it("we verify openssl's signatures (message and digest paths), default and custom user ID", () => {
    for (const userId of ["1234567812345678", "ALICE123@YAHOO.COM"]) {
      const sig = opensslSigns(message, userId);
      expect(verify(message, sig, pub, { userId })).toBe(true);
      expect(verifyDigest(computeDigest(message, pub, userId), sig, pub)).toBe(true);
      expect(verify(Buffer.from("other"), sig, pub, { userId })).toBe(false);
    }
  });
});

describe("interop with the openssl CLI: encryption (GM/T 0009 ASN.1)", () => {
  it("openssl decrypts what we encrypt in the ASN.1 form", () => {
    for (const len of [1, 32, 100]) {
      const m = randomBytes(len);
      const out = openssl([
        "pkeyutl",
        "-decrypt",
        "-inkey",
        keyFile,
        "-in",
        tmp(encrypt(m, pub, { form: "asn1" })),
      ]);
      expect(out).toEqual(m);
    }
  });

  it("we decrypt what openssl encrypts", () => {
    for (const len of [1, 32, 100]) {
      const m = randomBytes(len);
      const ct = openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile, "-in", tmp(m)]);
      expect(decrypt(ct, key, { form: "asn1" })).toEqual(m);
    }
  });
});

describe("interop with the openssl CLI: PKCS#10 certification requests", () => {
  it("openssl reads our SM2 CSR's subject and key and verifies its SM2-with-SM3 self-signature (default user ID); a changed byte fails", () => {
    const csr = createCertificationRequest(
      { commonName: "测试单位 110101", organization: "Piaoju", country: "CN" },
      key,
    );
    const file = tmp(certificationRequestPem(csr));
    // openssl prints the verdict on stderr (OpenSSL 3.0 exits 0 either way)
    const verify = (f: string) => {
      const r = spawnSync("openssl", [
        "req",
        "-in",
        f,
        "-verify",
        "-noout",
        "-vfyopt",
        "distid:1234567812345678",
      ]);
      const out = `${r.stdout}${r.stderr}`;
      return { ok: out.includes("verify OK"), out };
    };
    expect(verify(file)).toMatchObject({ ok: true, out: expect.stringContaining("verify OK") });
    const subject = openssl([
      "req",
      "-in",
      file,
      "-noout",
      "-subject",
      "-nameopt",
      "utf8,sep_comma_plus",
    ]).toString();
    expect(subject).toContain("CN=测试单位 110101");
    const reqKey = openssl(["req", "-in", file, "-noout", "-pubkey"]).toString();
    expect(Sm2PublicKey.fromPem(reqKey).equals(pub)).toBe(true);
    // the subject's last byte changed: still parses, the signature no longer holds
    const tampered = Buffer.from(csr);
    const at = tampered.indexOf(Buffer.from("110101"));
    tampered[at] = 0x32;
    expect(verify(tmp(certificationRequestPem(tampered)))).toMatchObject({
      ok: false,
      out: expect.stringContaining("verify failure"),
    });
  });
});
