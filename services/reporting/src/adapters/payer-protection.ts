import { randomBytes, timingSafeEqual } from "node:crypto";
import { hmacSm3, sm3, sm4CbcDecrypt, sm4CbcEncrypt } from "@piaoju/gm-crypto";

/**
 * The payer's identity in the read model, under the platform's secrets key (SM4, 16 bytes):
 * the name and ID number are sealed together (SM4-CBC, then HMAC-SM3 over IV and ciphertext)
 * for the people in the agency's scope who read a report, and findable only by keyed hash
 * (HMAC-SM3 of the normalised value), never stored in clear or as a plain hash.
 *
 * The one place reporting seals or hashes; the platform's shared sealing module replaces it
 * when it lands (same three calls).
 */
export interface PayerIdentity {
  name: string;
  code: string;
}

export class PayerProtection {
  readonly #sealKey: Buffer;
  readonly #macKey: Buffer;
  readonly #digestKey: Buffer;

  constructor(secretsKey: Buffer) {
    if (secretsKey.length !== 16) throw new Error("the secrets key is an SM4 key of 16 bytes");
    this.#sealKey = derive(secretsKey, "reporting/payer-seal").subarray(0, 16);
    this.#macKey = derive(secretsKey, "reporting/payer-mac");
    this.#digestKey = derive(secretsKey, "reporting/payer-digest");
  }

  seal(payer: PayerIdentity): Buffer {
    const iv = randomBytes(16);
    const body = Buffer.concat([iv, sm4CbcEncrypt(this.#sealKey, iv, Buffer.from(JSON.stringify(payer)))]);
    return Buffer.concat([body, hmacSm3(this.#macKey, body)]);
  }

  unseal(sealed: Uint8Array): PayerIdentity {
    const bytes = Buffer.from(sealed);
    const body = bytes.subarray(0, bytes.length - 32);
    if (bytes.length < 64 || !timingSafeEqual(bytes.subarray(bytes.length - 32), hmacSm3(this.#macKey, body)))
      throw new Error("sealed payer was altered or the key is wrong");
    return JSON.parse(sm4CbcDecrypt(this.#sealKey, body.subarray(0, 16), body.subarray(16)).toString("utf8"));
  }

  /** Keyed hash of a payer's name or ID number: blanks ignored, letters upper-cased (the X of an ID number). */
  digest(kind: "name" | "code", value: string): string {
    return hmacSm3(this.#digestKey, `${kind}\n${value.replace(/\s+/g, "").toUpperCase()}`).toString("hex");
  }
}

function derive(key: Buffer, purpose: string): Buffer {
  return sm3(Buffer.concat([Buffer.from(`piaoju/${purpose}\0`), key]));
}
