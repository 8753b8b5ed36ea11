import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { generateSm4Key, Sm2PrivateKey, Sm2PublicKey } from "@piaoju/gm-crypto";
import { issueCertificate, openOrCreateDevCa, parseSubject } from "./dev-ca.ts";
import {
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

const USAGE = `usage: tsx packages/signing-core/src/keystore-cli.ts <command> --dir <keystore> [options]

  init        --dir D --key-id K [--subject "/C=CN/O=…/CN=…"] [--no-cert]
              a new SM2 key sealed as D/K.key and, unless --no-cert, a certificate from the
              keystore's dev CA (created in D/dev-ca on first use) as D/K.crt.pem
  import-cert --dir D --key-id K --cert chain.pem
              install a certificate chain (leaf first) for an existing key; the leaf must carry K's key
  list        --dir D
              key ids, their public keys and certificates

The keystore key is PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY (32 hex characters). When init finds it unset
and the keystore new, it makes one and prints it once: keep it in the device's secret.`;

function fail(message: string): never {
  process.stderr.write(`keystore-cli: ${message}\n`);
  process.exit(1);
}

function masterKey(allowNew: boolean, dir: string): Buffer {
  const hex = process.env.PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY;
  if (hex) {
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) fail("PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY must be 32 hex characters");
    return Buffer.from(hex, "hex");
  }
  if (!allowNew || (existsSync(dir) && listKeyIds(dir).length > 0)) {
    fail("PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY is not set");
  }
  const key = generateSm4Key();
  process.stdout.write(`PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY=${key.toString("hex")}\n`);
  process.stderr.write(
    "keystore-cli: made a new keystore key (printed above): keep it secret, it is shown once\n",
  );
  return key;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: "string" },
      "key-id": { type: "string" },
      subject: { type: "string" },
      cert: { type: "string" },
      "no-cert": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dir = values.dir ?? fail("--dir is required");
  const keyId = values["key-id"];
  if (keyId !== undefined && !KEY_ID_PATTERN.test(keyId)) {
    fail(
      `--key-id "${keyId}": letters, digits, '.', '_' and '-', at most 128, starting with a letter or digit`,
    );
  }

  switch (command) {
    case "init": {
      if (!keyId) fail("--key-id is required");
      if (keyId === "dev-ca") fail('"dev-ca" is reserved for the dev CA');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (existsSync(keyFilePath(dir, keyId)))
        fail(`${keyFilePath(dir, keyId)} exists; refusing to replace a key`);
      const subject = parseSubject(values.subject ?? `/C=CN/O=Piaoju Development/CN=${keyId}`);
      const master = masterKey(true, dir);
      const key = Sm2PrivateKey.generate();
      writeFileSync(keyFilePath(dir, keyId), sealPrivateKey(keyId, key, master), { mode: 0o600 });
      process.stderr.write(`keystore-cli: key ${keyId} sealed in ${keyFilePath(dir, keyId)}\n`);
      if (!values["no-cert"]) {
        const ca = await openOrCreateDevCa(dir, master);
        writeFileSync(certFilePath(dir, keyId), issueCertificate(ca, key, subject));
        process.stderr.write(
          `keystore-cli: certificate for CN=${subject.commonName} in ${certFilePath(dir, keyId)}\n`,
        );
      }
      return;
    }
    case "import-cert": {
      if (!keyId) fail("--key-id is required");
      const certPath = values.cert ?? fail("--cert is required");
      const master = masterKey(false, dir);
      if (!existsSync(keyFilePath(dir, keyId))) fail(`no key ${keyId} in ${dir}`);
      const key = Sm2PrivateKey.fromDer(openPrivateKey(keyId, readFileSync(keyFilePath(dir, keyId)), master));
      const pem = readFileSync(certPath, "utf8");
      const chain = parseChain(pem, certPath);
      if (!Sm2PublicKey.fromDer(chain.publicKey).equals(key.publicKey)) {
        fail(`${certPath}: its first certificate is not for key ${keyId}`);
      }
      writeFileSync(certFilePath(dir, keyId), chain.chainPem);
      process.stderr.write(`keystore-cli: certificate ${chain.subject} installed for ${keyId}\n`);
      return;
    }
    case "list": {
      const master = masterKey(false, dir);
      for (const id of listKeyIds(dir)) {
        const key = Sm2PrivateKey.fromDer(openPrivateKey(id, readFileSync(keyFilePath(dir, id)), master));
        const chain = readChain(dir, id);
        process.stdout.write(
          `${id}\tpublic=${key.publicKey.toHex()}\t${chain ? `${chain.subject}\tsm3=${chain.fingerprint}\tuntil=${chain.notAfter}` : "no certificate"}\n`,
        );
      }
      return;
    }
    default:
      fail(`unknown command "${command}"\n${USAGE}`);
  }
}

try {
  await main();
} catch (error) {
  fail(
    error instanceof KeystoreError ? error.message : error instanceof Error ? error.message : String(error),
  );
}
