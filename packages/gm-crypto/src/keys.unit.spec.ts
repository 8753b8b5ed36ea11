import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bigintToBytes } from "./bytes.ts";
import { N } from "./curve.ts";
import { GmCryptoError } from "./errors.ts";
import { generateSm2KeyPair, Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { vectors } from "./testdata/vectors.ts";

const dir = mkdtempSync(join(tmpdir(), "gm-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectBadKey(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(GmCryptoError);
  expect((caught as GmCryptoError).code).toBe("BAD_KEY");
}

describe("SM2 keys", () => {
  it("a generated key is an OpenSSL SM2 key, not an EC (ECDSA) key", () => {
    const key = generateSm2KeyPair();
    expect(key.keyObject.asymmetricKeyType).not.toBe("ec");
    expect(key.publicKey.keyObject.asymmetricKeyType).not.toBe("ec");
    expect(key.toRaw()).toHaveLength(32);
    expect(key.publicKey.toRaw()).toHaveLength(65);
    expect(key.publicKey.toRaw()[0]).toBe(4);
  });

  it("an EC-type KeyObject from generateKeyPairSync is re-imported as SM2", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "SM2" });
    expect(privateKey.asymmetricKeyType).toBe("ec");
    const key = Sm2PrivateKey.fromKeyObject(privateKey);
    expect(key.keyObject.asymmetricKeyType).not.toBe("ec");
  });

  it("the published private key derives the published public key", () => {
    const v = vectors.sm2_signature[0]!;
    const key = Sm2PrivateKey.fromHex(v.private_key_hex);
    expect(key.publicKey.toHex()).toBe(v.public_key_hex_uncompressed);
    expect(key.toHex()).toBe(v.private_key_hex);
  });

  it("round-trips through PKCS#8 PEM/DER, SPKI PEM/DER, raw and compressed forms", () => {
    const key = generateSm2KeyPair();
    for (const copy of [
      Sm2PrivateKey.fromPem(key.toPem()),
      Sm2PrivateKey.fromDer(key.toDer()),
      Sm2PrivateKey.fromRaw(key.toRaw()),
      Sm2PrivateKey.fromHex(key.toHex()),
    ]) {
      expect(copy.toRaw()).toEqual(key.toRaw());
      expect(copy.publicKey.equals(key.publicKey)).toBe(true);
    }
    const pub = key.publicKey;
    for (const copy of [
      Sm2PublicKey.fromPem(pub.toPem()),
      Sm2PublicKey.fromDer(pub.toDer()),
      Sm2PublicKey.fromRaw(pub.toRaw()),
      Sm2PublicKey.fromRaw(pub.toCompressed()),
      Sm2PublicKey.fromRaw(pub.toRaw().subarray(1)),
      Sm2PublicKey.fromHex(pub.toHex()),
      Sm2PublicKey.fromPem(key.toPem()),
    ]) {
      expect(copy.toRaw()).toEqual(pub.toRaw());
    }
  });

  it("DER built from raw by asn1js is byte-identical to OpenSSL's own encoding", () => {
    const key = generateSm2KeyPair();
    const pemFile = join(dir, "k.pem");
    writeFileSync(pemFile, key.toPem());
    const pkcs8 = execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", pemFile, "-outform", "DER"]);
    const spki = execFileSync("openssl", ["pkey", "-in", pemFile, "-pubout", "-outform", "DER"]);
    expect(Sm2PrivateKey.fromRaw(key.toRaw()).toDer()).toEqual(pkcs8);
    expect(Sm2PublicKey.fromRaw(key.publicKey.toRaw()).toDer()).toEqual(spki);
  });

  it("imports keys the openssl CLI generated (PKCS#8 and SEC1)", () => {
    const pemFile = join(dir, "cli.pem");
    execFileSync("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:SM2",
      "-out",
      pemFile,
    ]);
    const pkcs8Pem = execFileSync("openssl", ["pkey", "-in", pemFile]).toString();
    const sec1Pem = execFileSync("openssl", ["ec", "-in", pemFile], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    const pubPem = execFileSync("openssl", ["pkey", "-in", pemFile, "-pubout"]).toString();
    const a = Sm2PrivateKey.fromPem(pkcs8Pem);
    const b = Sm2PrivateKey.fromPem(sec1Pem);
    expect(b.toRaw()).toEqual(a.toRaw());
    expect(Sm2PublicKey.fromPem(pubPem).equals(a.publicKey)).toBe(true);
    expect(b.keyObject.asymmetricKeyType).not.toBe("ec");
  });

  it("Z_A of the published key and ID equals the published Z_A, and is cached per ID", () => {
    const v = vectors.sm2_signature[0]!;
    const pub = Sm2PublicKey.fromHex(v.public_key_hex_uncompressed);
    expect(pub.za(v.user_id_utf8).toString("hex")).toBe(v.za_hex);
    expect(pub.za().toString("hex")).toBe(v.za_hex);
    expect(pub.za("ALICE123@YAHOO.COM").toString("hex")).not.toBe(v.za_hex);
    const z = pub.za();
    z.fill(0); // callers get a copy: the cache cannot be corrupted
    expect(pub.za().toString("hex")).toBe(v.za_hex);
  });

  it("refuses malformed, off-curve, out-of-range and non-SM2 keys with BAD_KEY", () => {
    const good = generateSm2KeyPair();
    const raw = good.publicKey.toRaw();
    const offCurve = Buffer.from(raw);
    offCurve[64] = offCurve[64]! ^ 1;
    expectBadKey(() => Sm2PublicKey.fromRaw(offCurve));
    expectBadKey(() => Sm2PublicKey.fromRaw(raw.subarray(0, 40)));
    expectBadKey(() => Sm2PublicKey.fromRaw(Buffer.alloc(65)));
    expectBadKey(() => Sm2PublicKey.fromHex("04zz"));
    expectBadKey(() => Sm2PublicKey.fromDer(good.publicKey.toDer().subarray(0, 50)));
    expectBadKey(() => Sm2PublicKey.fromDer(Buffer.from("not der")));
    expectBadKey(() => Sm2PublicKey.fromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
    expectBadKey(() => Sm2PrivateKey.fromRaw(Buffer.alloc(32)));
    expectBadKey(() => Sm2PrivateKey.fromRaw(bigintToBytes(N - 1n)));
    expectBadKey(() => Sm2PrivateKey.fromRaw(bigintToBytes(N)));
    expectBadKey(() => Sm2PrivateKey.fromRaw(Buffer.alloc(33, 1)));
    expectBadKey(() => Sm2PrivateKey.fromDer(good.toDer().subarray(0, 60)));
    expectBadKey(() => Sm2PrivateKey.fromPem("garbage"));
    expectBadKey(() => Sm2PublicKey.fromDer(Buffer.from("3003180141", "hex")));
    expectBadKey(() => Sm2PrivateKey.fromDer(Buffer.from("3003180141", "hex")));
    const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expectBadKey(() => Sm2PrivateKey.fromKeyObject(p256.privateKey));
    expectBadKey(() => Sm2PublicKey.fromKeyObject(p256.publicKey));
    expectBadKey(() => Sm2PrivateKey.fromDer(p256.privateKey.export({ type: "pkcs8", format: "der" })));
    const ed = generateKeyPairSync("ed25519");
    expectBadKey(() => Sm2PublicKey.fromPem(ed.publicKey.export({ type: "spki", format: "pem" }).toString()));
    expectBadKey(() => Sm2PrivateKey.fromKeyObject(good.publicKey.keyObject));
  });
});
