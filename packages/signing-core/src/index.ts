/**
 * The software signing device's core (软件密码设备), one home for what the standalone device
 * (services/signing-device) and the signing gateway's embedded devices both run: the sealed
 * keystore, the SM2 worker pool and the piaoju.signing.v1 handlers.
 */
export {
  type AccessQuestion,
  type Decision,
  decide,
  type GuardOptions,
  guardHandlers,
  type KeyScope,
  SIGNING_POLICY,
  type SigningEndpoint,
  type SigningGrant,
  type SigningMethod,
} from "./access.ts";
export { type DeviceConfig, type DeviceConfigEnv, deviceConfigSchema, loadDeviceConfig } from "./config.ts";
export { issueCertificate, openOrCreateDevCa, parseSubject, type SubjectName } from "./dev-ca.ts";
export { IMPLEMENTATION, mapGmCryptoError, type RunningDevice, startDevice } from "./device.ts";
export {
  type CertificateChain,
  certFilePath,
  KEY_ID_PATTERN,
  KeystoreError,
  keyFilePath,
  listKeyIds,
  openPrivateKey,
  parseChain,
  readChain,
  sealPrivateKey,
} from "./keystore.ts";

/** The keystore CLI's file, for tools that run it as its own process (`node --import tsx <it> init …`). */
export const KEYSTORE_CLI = new URL("./keystore-cli.ts", import.meta.url);
