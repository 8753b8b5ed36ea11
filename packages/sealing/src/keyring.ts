import { sm3 } from "@piaoju/gm-crypto";

/** SM3("piaoju/" ‖ purpose ‖ 0x00 ‖ key): one key per use from one root key. */
export function deriveKey(root: Uint8Array, purpose: string): Buffer {
  return sm3(Buffer.concat([Buffer.from(`piaoju/${purpose}\0`), root]));
}

/** A root key is an SM4 key: 16 bytes, 32 hex digits in configuration. */
export const ROOT_KEY_LENGTH = 16;

/** A root key and its id: 4 bytes naming the key in every value sealed under it. */
export interface RootKey {
  /** 8 hex digits: SM3("piaoju/key-id" ‖ 0x00 ‖ key), first 4 bytes. */
  readonly id: string;
  readonly key: Buffer;
}

export class KeyringError extends Error {
  override readonly name = "KeyringError";
}

/** The key id of a root key: a fingerprint, so configuration needs no id and two keys never share one by mistake. */
export function keyIdOf(key: Uint8Array): string {
  return sm3(Buffer.concat([Buffer.from("piaoju/key-id\0"), key]))
    .subarray(0, 4)
    .toString("hex");
}

/**
 * The keys a service seals with: the current one (every new value) and the retired ones it
 * still reads (values sealed before a rotation, until they are sealed again).
 *
 * In configuration, a comma-separated list of 32-hex-digit keys, current first:
 *   PIAOJU_SECRETS_KEY=<new>,<old>
 * A single key is the usual case.
 */
export class Keyring {
  readonly current: RootKey;
  readonly keys: readonly RootKey[];
  readonly #byId: Map<string, RootKey>;

  constructor(current: Uint8Array, retired: readonly Uint8Array[] = []) {
    this.keys = [current, ...retired].map((k) => {
      if (!(k instanceof Uint8Array) || k.length !== ROOT_KEY_LENGTH)
        throw new KeyringError(`a root key is an SM4 key of ${ROOT_KEY_LENGTH} bytes`);
      const key = Buffer.from(k);
      return { id: keyIdOf(key), key };
    });
    this.current = this.keys[0] as RootKey;
    this.#byId = new Map();
    for (const k of this.keys) {
      if (this.#byId.has(k.id)) throw new KeyringError(`the key ${k.id} is listed twice`);
      this.#byId.set(k.id, k);
    }
  }

  /** "hex[,hex…]", current first. Names no key in its errors (they end up in logs). */
  static parse(text: string): Keyring {
    const parts = text.split(",").map((p) => p.trim());
    for (const [i, p] of parts.entries())
      if (!/^[0-9a-fA-F]{32}$/.test(p))
        throw new KeyringError(`key ${i + 1} of the list is not an SM4 key (32 hex digits)`);
    const [current, ...retired] = parts.map((p) => Buffer.from(p, "hex"));
    return new Keyring(current as Buffer, retired);
  }

  byId(id: string): RootKey | undefined {
    return this.#byId.get(id);
  }

  /**
   * The ring of keys for one use, each derived from the root key at its place (SM3("piaoju/" ‖
   * purpose ‖ 0x00 ‖ K), first 16 bytes: deriveKey), current first: what is sealed for that use
   * never opens under the root keys or another use's, and a rotation of the root keys rotates it.
   */
  derive(purpose: string): Keyring {
    const [current, ...retired] = this.keys.map((k) =>
      deriveKey(k.key, purpose).subarray(0, ROOT_KEY_LENGTH),
    );
    return new Keyring(current as Buffer, retired);
  }
}

/** A configuration rule for a key list, for services' zod schemas (a plain regular expression, no zod here). */
export const KEYRING_PATTERN = /^[0-9a-fA-F]{32}(,[0-9a-fA-F]{32})*$/;
