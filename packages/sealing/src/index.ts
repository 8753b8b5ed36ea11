export type { RootKey } from "./keyring.ts";
export { deriveKey, KEYRING_PATTERN, Keyring, KeyringError, keyIdOf, ROOT_KEY_LENGTH } from "./keyring.ts";
export type { CbcThenHmacLayout } from "./legacy.ts";
export { cbcThenHmac, LEGACY_FORMATS } from "./legacy.ts";
export type { LegacyFormat, SealedInfo, SealerOptions } from "./sealer.ts";
export { normalizeForLookup, SealError, Sealer } from "./sealer.ts";
