/**
 * `pnpm --filter @piaoju/gm-crypto bench`: operations per second of this package on one core
 * (everything here is synchronous on the main thread) beside sm-crypto 0.5.8, as ratios.
 * Median of 3 one-second rounds after a warm-up; 256-byte messages, 32-byte plaintexts (an SM4
 * key in an envelope). Numbers move with machine load: compare ratios, not absolutes.
 */
import { randomBytes } from "node:crypto";
import { sm2 } from "sm-crypto";
import { decrypt, encrypt } from "./encryption.ts";
import { generateSm2KeyPair } from "./keys.ts";
import { createEnvelopedData, createSignedData, openEnvelopedData, verifySignedData } from "./pkcs7.ts";
import { computeDigest, sign, signDigest, verify, verifyDigest } from "./signature.ts";
import { DevCa } from "./x509.ts";

function rate(fn: () => unknown): number {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) fn();
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 1000) {
      fn();
      n++;
    }
    rounds.push(n / ((performance.now() - start) / 1000));
  }
  rounds.sort((a, b) => a - b);
  return rounds[1]!;
}

const key = generateSm2KeyPair();
const pub = key.publicKey;
const privHex = key.toHex();
const pubHex = pub.toHex();
const message = randomBytes(256);
const msgArray = Array.from(message);
const plaintext = randomBytes(32);

const sig = sign(message, key);
const e = computeDigest(message, pub);
const ct = encrypt(plaintext, pub);
const theirSig = sm2.doSignature(msgArray, privHex, { hash: true, publicKey: pubHex });
const theirCt = sm2.doEncrypt(Array.from(plaintext), pubHex, 1);

const rows: [string, number, number | null][] = [
  [
    "sign",
    rate(() => sign(message, key)),
    rate(() => sm2.doSignature(msgArray, privHex, { hash: true, publicKey: pubHex })),
  ],
  [
    "verify",
    rate(() => verify(message, sig, pub)),
    rate(() => sm2.doVerifySignature(msgArray, theirSig, pubHex, { hash: true })),
  ],
  [
    "encrypt",
    rate(() => encrypt(plaintext, pub)),
    rate(() => sm2.doEncrypt(Array.from(plaintext), pubHex, 1)),
  ],
  [
    "decrypt",
    rate(() => decrypt(ct, key)),
    rate(() => sm2.doDecrypt(theirCt, privHex, 1, { output: "array" })),
  ],
  ["signDigest (e given)", rate(() => signDigest(e, key)), null],
  ["verifyDigest (e given)", rate(() => verifyDigest(e, sig, pub)), null],
];

// PKCS#7 (GM/T 0010) on a 2 KB receipt: what issuing and checking one receipt costs.
const ca = await DevCa.create({ name: "bench CA" });
const signCert = ca.issue({ subject: { commonName: "agency" }, publicKey: pub, usage: "sign" });
const encKey = generateSm2KeyPair();
const encCert = ca.issue({
  subject: { commonName: "finance" },
  publicKey: encKey.publicKey,
  usage: "encrypt",
});
const receipt = randomBytes(2048);
const signOpts = { content: receipt, detached: true, signerKey: key, signerCert: signCert };
const signed = createSignedData(signOpts);
const envelope = createEnvelopedData({ content: receipt, recipients: [encCert] });
rows.push(
  ["createSignedData detached", rate(() => createSignedData(signOpts)), null],
  ["verifySignedData", rate(() => verifySignedData(signed, { content: receipt })), null],
  [
    "verifySignedData+chain",
    rate(() => verifySignedData(signed, { content: receipt, trusted: [ca.certificate] })),
    null,
  ],
  [
    "createEnvelopedData (1)",
    rate(() => createEnvelopedData({ content: receipt, recipients: [encCert] })),
    null,
  ],
  ["openEnvelopedData", rate(() => openEnvelopedData(envelope, { key: encKey, cert: encCert })), null],
);

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(8);
console.log(`SM2 on one core, Node ${process.versions.node} (OpenSSL ${process.versions.openssl})`);
console.log(`${"operation".padEnd(24)}${"ours/s".padStart(8)}  ${"sm-crypto/s".padStart(11)}  ratio`);
for (const [name, ours, theirs] of rows) {
  const ratio = theirs === null ? "" : `${(ours / theirs).toFixed(1)}x`;
  console.log(
    `${name.padEnd(24)}${fmt(ours)}  ${theirs === null ? "-".padStart(11) : fmt(theirs).padStart(11)}  ${ratio}`,
  );
}
