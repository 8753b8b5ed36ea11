/**
 * SM2 keys. Each key wraps a Node KeyObject that OpenSSL treats as an SM2 key (so createSign
 * computes SM2 signatures, not ECDSA on the SM2 curve) together with its raw form.
 *
 * Node pitfall: `generateKeyPairSync("ec", { namedCurve: "SM2" })` returns an EC-type key that
 * signs plain ECDSA; only a key imported from PKCS#8/SPKI becomes an SM2 key. Every way in here
 * ends in an import, and `assertSm2` refuses EC-type keys.
 */
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import * as asn1js from "asn1js";
import {
  asOctets,
  asOid,
  asSequence,
  asUnsignedInteger,
  OID_EC_PUBLIC_KEY,
  OID_SM2_CURVE,
  parseAsn1,
  toDer,
} from "./asn1.ts";
import { type BytesLike, bigintFromBytes, bigintToBytes, isHex } from "./bytes.ts";
import { compressPoint, decodePoint, encodePoint, N, type Point } from "./curve.ts";
import { GmCryptoError } from "./errors.ts";
import { computeZa, DEFAULT_USER_ID, userIdBytes } from "./za.ts";

function badKey(message: string, cause?: unknown): GmCryptoError {
  return new GmCryptoError("BAD_KEY", message, cause === undefined ? undefined : { cause });
}

function algorithmIdentifier(): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: OID_EC_PUBLIC_KEY }),
      new asn1js.ObjectIdentifier({ value: OID_SM2_CURVE }),
    ],
  });
}

function checkAlgorithm(node: unknown): boolean {
  const alg = asSequence(node, 2);
  return alg !== null && asOid(alg[0]) === OID_EC_PUBLIC_KEY && asOid(alg[1]) === OID_SM2_CURVE;
}

/** SubjectPublicKeyInfo DER for 04‖x‖y, built with asn1js. */
function spkiDer(point65: Buffer): Buffer {
  return toDer(
    new asn1js.Sequence({ value: [algorithmIdentifier(), new asn1js.BitString({ valueHex: point65 })] }),
  );
}

/**
 * PKCS#8 PrivateKeyInfo DER wrapping an RFC 5915 ECPrivateKey {1, d, [1] publicKey} (the curve
 * is named once, in the AlgorithmIdentifier), built with asn1js; byte-identical to what
 * `openssl pkcs8 -topk8 -nocrypt -outform DER` writes.
 */
function pkcs8Der(d: bigint, point65: Buffer): Buffer {
  const ecPrivateKey = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.OctetString({ valueHex: bigintToBytes(d) }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 1 },
        value: [new asn1js.BitString({ valueHex: point65 })],
      }),
    ],
  });
  return toDer(
    new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 0 }),
        algorithmIdentifier(),
        new asn1js.OctetString({ valueHex: toDer(ecPrivateKey) }),
      ],
    }),
  );
}

/** Reads 04‖x‖y out of an SM2 SubjectPublicKeyInfo. */
function pointFromSpki(der: Uint8Array): Point | null {
  const spki = asSequence(parseAsn1(der), 2);
  if (!spki || !checkAlgorithm(spki[0])) return null;
  const bits = spki[1];
  if (!(bits instanceof asn1js.BitString) || bits.valueBlock.unusedBits !== 0) return null;
  return decodePoint(bits.valueBlock.valueHexView);
}

/** Reads d (and the public key, when present) out of an SM2 PKCS#8 PrivateKeyInfo. */
function scalarFromPkcs8(der: Uint8Array): { d: bigint; point65: Uint8Array | null } | null {
  const info = asSequence(parseAsn1(der));
  if (!info || info.length < 3 || asUnsignedInteger(info[0]) !== 0n || !checkAlgorithm(info[1])) return null;
  const inner = asOctets(info[2]);
  if (!inner) return null;
  const ec = asSequence(parseAsn1(inner));
  if (!ec || ec.length < 2 || asUnsignedInteger(ec[0]) !== 1n) return null;
  const d = asOctets(ec[1]);
  if (!d || d.length > 32) return null;
  let point65: Uint8Array | null = null;
  for (const field of ec.slice(2)) {
    if (
      field instanceof asn1js.Constructed &&
      field.idBlock.tagClass === 3 &&
      field.idBlock.tagNumber === 1
    ) {
      const bits = field.valueBlock.value[0];
      if (bits instanceof asn1js.BitString) point65 = bits.valueBlock.valueHexView;
    }
  }
  return { d: bigintFromBytes(d), point65 };
}

function isSm2Curve(key: KeyObject): boolean {
  return key.asymmetricKeyDetails?.namedCurve === "SM2";
}

/**
 * OpenSSL-level SM2 keys show in Node 20 as asymmetricKeyType undefined (Node has no name for
 * EVP_PKEY_SM2); a later Node may say "sm2". "ec" means an ECDSA-signing key.
 */
function isSm2Type(key: KeyObject): boolean {
  const t: string | undefined = key.asymmetricKeyType;
  return t === undefined || t === "sm2";
}

function hexInput(hex: string, what: string): Buffer {
  const clean = hex.trim();
  if (!isHex(clean)) throw badKey(`${what} is not a hex string`);
  return Buffer.from(clean, "hex");
}

export class Sm2PublicKey {
  readonly keyObject: KeyObject;
  readonly point: Readonly<Point>;
  readonly #raw: Buffer;
  readonly #zaCache = new Map<string, Buffer>();

  private constructor(keyObject: KeyObject, point: Point) {
    this.keyObject = keyObject;
    this.point = Object.freeze({ ...point });
    this.#raw = encodePoint(point);
  }

  /** 04‖x‖y (65 bytes), 02/03‖x (33 bytes, compressed) or x‖y (64 bytes, sm-crypto without its 04). */
  static fromRaw(bytes: Uint8Array): Sm2PublicKey {
    const input = bytes.length === 64 ? Buffer.concat([Buffer.from([4]), bytes]) : bytes;
    const point = decodePoint(input);
    if (!point) throw badKey(`not an SM2 public point (${bytes.length} bytes, or not on the curve)`);
    return Sm2PublicKey.fromDer(spkiDer(encodePoint(point)));
  }

  /** Hex of any fromRaw form. */
  static fromHex(hex: string): Sm2PublicKey {
    return Sm2PublicKey.fromRaw(hexInput(hex, "public key"));
  }

  /** SubjectPublicKeyInfo DER. */
  static fromDer(der: Uint8Array): Sm2PublicKey {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
    } catch (cause) {
      throw badKey("not a DER SubjectPublicKeyInfo", cause);
    }
    return Sm2PublicKey.fromKeyObject(key);
  }

  /** "-----BEGIN PUBLIC KEY-----" PEM (a private key PEM also works: its public half is taken). */
  static fromPem(pem: string): Sm2PublicKey {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (cause) {
      throw badKey("not a PEM public key", cause);
    }
    return Sm2PublicKey.fromKeyObject(key);
  }

  /** A Node public KeyObject on the SM2 curve; an EC-type one is re-imported as SM2. */
  static fromKeyObject(key: KeyObject): Sm2PublicKey {
    if (key.type === "private") key = createPublicKey(key);
    if (key.type !== "public") throw badKey("not an asymmetric key");
    if (!isSm2Type(key) && !(key.asymmetricKeyType === "ec" && isSm2Curve(key))) {
      throw badKey(`not an SM2 key (Node type ${key.asymmetricKeyType})`);
    }
    const der = key.export({ type: "spki", format: "der" });
    const point = pointFromSpki(der);
    if (!point) throw badKey("public key is not on the SM2 curve (wrong curve OID or point)");
    if (!isSm2Type(key)) key = createPublicKey({ key: der, format: "der", type: "spki" });
    if (!isSm2Type(key)) throw badKey("OpenSSL did not import the key as SM2");
    return new Sm2PublicKey(key, point);
  }

  /** 04‖x‖y, 65 bytes. */
  toRaw(): Buffer {
    return Buffer.from(this.#raw);
  }

  /** 02/03‖x, 33 bytes. */
  toCompressed(): Buffer {
    return compressPoint(this.point);
  }

  /** Hex of 04‖x‖y (the form sm-crypto uses for public keys). */
  toHex(): string {
    return this.#raw.toString("hex");
  }

  toDer(): Buffer {
    return this.keyObject.export({ type: "spki", format: "der" });
  }

  toPem(): string {
    return this.keyObject.export({ type: "spki", format: "pem" }).toString();
  }

  equals(other: Sm2PublicKey): boolean {
    return this.#raw.equals(other.#raw);
  }

  /**
   * Z_A for this key and a user ID (default "1234567812345678"), cached: it is constant for a
   * key + ID, and signing or verifying many messages with one key then costs one SM3 less each.
   */
  za(userId?: BytesLike): Buffer {
    return Buffer.from(this.zaView(userId));
  }

  /** @internal the cached Z_A itself (not a copy): never modify it. */
  zaView(userId?: BytesLike): Buffer {
    const cacheKey =
      userId === undefined || userId === DEFAULT_USER_ID
        ? DEFAULT_USER_ID
        : typeof userId === "string"
          ? `s:${userId}`
          : `b:${Buffer.from(userId.buffer, userId.byteOffset, userId.byteLength).toString("hex")}`;
    let z = this.#zaCache.get(cacheKey);
    if (!z) {
      z = computeZa(this.#raw, userIdBytes(userId));
      if (this.#zaCache.size >= 16) this.#zaCache.clear();
      this.#zaCache.set(cacheKey, z);
    }
    return z;
  }

  /** @internal x‖y (64 bytes, a view of the cached point): never modify it. */
  get xyView(): Buffer {
    return this.#raw.subarray(1);
  }
}

export class Sm2PrivateKey {
  readonly keyObject: KeyObject;
  readonly publicKey: Sm2PublicKey;
  readonly #d: bigint;

  private constructor(keyObject: KeyObject, publicKey: Sm2PublicKey, d: bigint) {
    this.keyObject = keyObject;
    this.publicKey = publicKey;
    this.#d = d;
  }

  /** A fresh key from OpenSSL's generator, exported and re-imported so that it is a real SM2 key. */
  static generate(): Sm2PrivateKey {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "SM2" });
    return Sm2PrivateKey.fromKeyObject(privateKey);
  }

  /** d, big-endian, at most 32 bytes (shorter is left-padded), 1 ≤ d ≤ n-2. */
  static fromRaw(bytes: Uint8Array): Sm2PrivateKey {
    if (bytes.length === 0 || bytes.length > 32)
      throw badKey(`private key must be 32 bytes, got ${bytes.length}`);
    return Sm2PrivateKey.#fromScalar(bigintFromBytes(bytes), null);
  }

  /**
   * Every import ends here: the key is rebuilt from d as canonical PKCS#8 (so all keys encode
   * alike, whatever they came from) and imported, which makes it an OpenSSL SM2 key.
   */
  static #fromScalar(d: bigint, claimedPoint: Uint8Array | null): Sm2PrivateKey {
    checkScalar(d);
    const ecdh = createECDH("SM2");
    ecdh.setPrivateKey(bigintToBytes(d));
    const point65 = ecdh.getPublicKey();
    if (claimedPoint && !point65.equals(claimedPoint))
      throw badKey("the public key inside does not match d·G");
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pkcs8Der(d, point65), format: "der", type: "pkcs8" });
    } catch (cause) {
      throw badKey("OpenSSL refused the SM2 private key", cause);
    }
    if (!isSm2Type(key)) throw badKey("OpenSSL did not import the key as SM2");
    const publicKey = Sm2PublicKey.fromKeyObject(createPublicKey(key));
    if (!publicKey.toRaw().equals(point65)) throw badKey("public key does not match d·G");
    return new Sm2PrivateKey(key, publicKey, d);
  }

  static fromHex(hex: string): Sm2PrivateKey {
    return Sm2PrivateKey.fromRaw(hexInput(hex, "private key"));
  }

  /** PKCS#8 PrivateKeyInfo DER (unencrypted), or SEC1 ECPrivateKey DER. */
  static fromDer(der: Uint8Array): Sm2PrivateKey {
    const buf = Buffer.from(der);
    let key: KeyObject | undefined;
    let firstError: unknown;
    for (const type of ["pkcs8", "sec1"] as const) {
      try {
        key = createPrivateKey({ key: buf, format: "der", type });
        break;
      } catch (cause) {
        firstError ??= cause;
      }
    }
    if (!key) throw badKey("not a DER PKCS#8 or SEC1 private key", firstError);
    return Sm2PrivateKey.fromKeyObject(key);
  }

  /** "-----BEGIN PRIVATE KEY-----" (PKCS#8) or "-----BEGIN EC PRIVATE KEY-----" (SEC1). */
  static fromPem(pem: string): Sm2PrivateKey {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (cause) {
      throw badKey("not a PEM private key (encrypted PEM is not supported)", cause);
    }
    return Sm2PrivateKey.fromKeyObject(key);
  }

  /** A Node private KeyObject on the SM2 curve; an EC-type one (from generateKeyPairSync) is re-imported. */
  static fromKeyObject(key: KeyObject): Sm2PrivateKey {
    if (key.type !== "private") throw badKey("not a private key");
    if (!isSm2Type(key) && !(key.asymmetricKeyType === "ec" && isSm2Curve(key))) {
      throw badKey(`not an SM2 key (Node type ${key.asymmetricKeyType})`);
    }
    const parsed = scalarFromPkcs8(key.export({ type: "pkcs8", format: "der" }));
    if (parsed === null) throw badKey("private key is not on the SM2 curve (wrong curve OID or structure)");
    return Sm2PrivateKey.#fromScalar(parsed.d, parsed.point65);
  }

  /** d, 32 bytes. */
  toRaw(): Buffer {
    return bigintToBytes(this.#d);
  }

  toHex(): string {
    return this.toRaw().toString("hex");
  }

  /** PKCS#8 DER (with the public key inside, as OpenSSL writes it). */
  toDer(): Buffer {
    return this.keyObject.export({ type: "pkcs8", format: "der" });
  }

  toPem(): string {
    return this.keyObject.export({ type: "pkcs8", format: "pem" }).toString();
  }

  /** @internal the scalar, for the hand-written paths (digest signing, decryption). */
  get scalar(): bigint {
    return this.#d;
  }
}

/** SM2 needs 1 ≤ d ≤ n-2: signing divides by (1 + d). */
function checkScalar(d: bigint): void {
  if (d < 1n || d > N - 2n) throw badKey("private key out of range [1, n-2]");
}

/** Shorthand for Sm2PrivateKey.generate(). */
export function generateSm2KeyPair(): Sm2PrivateKey {
  return Sm2PrivateKey.generate();
}
