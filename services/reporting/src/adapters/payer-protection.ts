import { type Keyring, LEGACY_FORMATS, normalizeForLookup, Sealer } from "@piaoju/sealing";

/**
 * The payer's identity in the read model, through the platform's one sealing format
 * (@piaoju/sealing, docs/adr/0015) under the secrets key list: the name and ID number are
 * sealed together for the people in the agency's scope who read a report, and findable only
 * by keyed hash (HMAC-SM3 of the normalised value; the same digests as before the shared
 * format), never stored in clear or as a plain hash. Rows sealed before it still open; a
 * rebuild (POST /v1/reporting/rebuild) seals them all again under the current key.
 */
export interface PayerIdentity {
  name: string;
  code: string;
}

const CONTEXT = "reporting/receipt/payer";
const LOOKUP = "reporting/payer-digest";

export class PayerProtection {
  readonly #sealer: Sealer;

  constructor(keyring: Keyring) {
    this.#sealer = new Sealer(keyring, { legacy: [LEGACY_FORMATS.reporting] });
  }

  seal(payer: PayerIdentity): Buffer {
    return this.#sealer.sealJson(CONTEXT, { name: payer.name, code: payer.code });
  }

  unseal(sealed: Uint8Array): PayerIdentity {
    return this.#sealer.unsealJson<PayerIdentity>(CONTEXT, sealed);
  }

  /** Keyed hash of a payer's name or ID number: blanks ignored, letters upper-cased (the X of an ID number). */
  digest(kind: "name" | "code", value: string): string {
    return this.#sealer.lookupHash(LOOKUP, `${kind}\n${normalizeForLookup(kind, value)}`);
  }
}
