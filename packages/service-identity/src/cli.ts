import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createServiceCa, issueServiceCertificate, ServiceIdentityError } from "./ca.ts";
import { loadServiceCa, loadServiceTls, writeServiceCa, writeServiceTls } from "./tls-files.ts";

const USAGE = `usage: pnpm service-certs <command> [options]

  ca     --out DIR [--days 3650]
         a new service CA: DIR/ca.key (keep it offline) and DIR/ca.crt
  issue  --ca DIR --identity NAME --out DIR [--days 90] [--trust FILE]
         a certificate for the service NAME (spiffe://piaoju/NAME): DIR/tls.crt, DIR/tls.key and
         DIR/ca.crt (the CA, or FILE: e.g. the old and the new CA during a rotation), the layout
         of a Kubernetes TLS secret: kubectl create secret generic piaoju-tls-NAME --from-file=DIR
  show   --dir DIR
         the identity and end of validity of DIR/tls.crt`;

function fail(message: string): never {
  process.stderr.write(`service-certs: ${message}\n`);
  process.exit(1);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: "string" },
    ca: { type: "string" },
    identity: { type: "string" },
    days: { type: "string" },
    trust: { type: "string" },
    dir: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
const days = values.days === undefined ? undefined : Number(values.days);
if (days !== undefined && !(Number.isInteger(days) && days > 0))
  fail("--days must be a whole number of days");

try {
  switch (positionals[0]) {
    case "ca": {
      const out = values.out ?? fail("--out is required");
      if (existsSync(join(out, "ca.key"))) fail(`${join(out, "ca.key")} exists; refusing to replace a CA`);
      writeServiceCa(out, await createServiceCa(days ? { validDays: days } : {}));
      process.stdout.write(
        `service CA in ${out} (ca.key: keep it offline, it issues every service's identity)\n`,
      );
      break;
    }
    case "issue": {
      const ca = loadServiceCa(values.ca ?? fail("--ca is required"));
      const identity = values.identity ?? fail("--identity is required");
      const out = values.out ?? fail("--out is required");
      const issued = await issueServiceCertificate(ca, { identity, ...(days ? { validDays: days } : {}) });
      const trust = values.trust ? readFileSync(values.trust, "utf8") : ca.certificatePem;
      writeServiceTls(out, { caPem: trust, certificatePem: issued.certificatePem, keyPem: issued.keyPem });
      process.stdout.write(`${identity}: ${out}/tls.crt until ${issued.notAfter.toISOString()}\n`);
      break;
    }
    case "show": {
      const tls = loadServiceTls(values.dir ?? fail("--dir is required"));
      process.stdout.write(`${tls.identity}\tuntil ${tls.notAfter.toISOString()}\n`);
      break;
    }
    default:
      process.stdout.write(`${USAGE}\n`);
      if (!values.help) process.exitCode = 2;
  }
} catch (error) {
  fail(error instanceof ServiceIdentityError ? error.message : String(error));
}
