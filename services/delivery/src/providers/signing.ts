import * as grpc from "@grpc/grpc-js";
import { Certificate, parseSignedData } from "@piaoju/gm-crypto";
import {
  type GetCertificateRequestInput,
  type GetCertificateResponse,
  type ListKeysRequestInput,
  type ListKeysResponse,
  loadSigningProto,
  type SigningDeviceClient,
  type SignRequestInput,
  type SignResponse,
} from "@piaoju/proto/signing";
import { clientCredentials, type ServiceTls, TLS_CHANNEL_OPTIONS } from "@piaoju/service-identity";

/**
 * The agency's key as the receipt PDF's signature needs it: the certificate and chain that go
 * into the CMS, and a raw SM2 signature (DER, over SM3(Z_A ‖ data) with the default user ID)
 * made by the signing device. The private key never leaves the device.
 */
export interface AgencyPdfSigner {
  keyId: string;
  certificate: Certificate;
  chain: Certificate[];
  sign(data: Buffer): Promise<Buffer>;
}

export interface PdfSigning {
  /**
   * The key that signed the receipt (`agencySignature`, its detached PKCS#7): the PDF is
   * signed by the same key, found by its certificate's SM3 among the device's keys.
   */
  signerOf(agencySignatureBase64: string): Promise<AgencyPdfSigner>;
  close(): void;
}

export class PdfSigningError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = "PdfSigningError";
  }
}

const TRANSIENT = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.INTERNAL,
]);

/**
 * piaoju.signing.v1 through the signing gateway, as `delivery` (mutual TLS: the gateway's policy
 * lets delivery use agency keys, ADR signed-receipt-pdf). What delivery asks it to sign is only
 * the signed attributes of a CMS over its own rendering of an issued receipt.
 */
export function gatewayPdfSigning(opts: {
  address: string;
  tls?: Pick<ServiceTls, "ca" | "cert" | "key"> | undefined;
  deadlineMs: number;
}): PdfSigning {
  const credentials = opts.tls
    ? clientCredentials(opts.tls, ["signing-gateway"])
    : grpc.credentials.createInsecure();
  const client = loadSigningProto().newClient(
    opts.address,
    credentials,
    opts.tls ? { ...TLS_CHANNEL_OPTIONS } : {},
  );
  const keys = new Map<string, Promise<Omit<AgencyPdfSigner, "sign">>>();

  const resolveKey = async (fingerprint: string): Promise<Omit<AgencyPdfSigner, "sign">> => {
    const listed = await unary(client, "ListKeys", {}, opts.deadlineMs);
    const key = listed.keys.find((k) => k.certFingerprint === fingerprint);
    if (!key) {
      throw new PdfSigningError(
        `no signing key holds the certificate that signed the receipt (SM3 ${fingerprint})`,
        false,
      );
    }
    const got = await unary(client, "GetCertificate", { keyId: key.keyId }, opts.deadlineMs);
    const certificate = Certificate.fromDer(got.certificate);
    const chain = got.chain
      .map((der) => Certificate.fromDer(der))
      .filter((c) => c.fingerprintSm3() !== certificate.fingerprintSm3());
    return { keyId: key.keyId, certificate, chain };
  };

  return {
    async signerOf(agencySignatureBase64) {
      const info = parseSignedData(Buffer.from(agencySignatureBase64, "base64"));
      const signer = info.signers[0];
      const cert = info.certificates.find(
        (c) =>
          signer?.issuerDer &&
          signer.serial !== undefined &&
          c.matchesIssuerAndSerial(signer.issuerDer, signer.serial),
      );
      if (!cert)
        throw new PdfSigningError("the receipt's agency signature carries no signer certificate", false);
      const fingerprint = cert.fingerprintSm3();
      let found = keys.get(fingerprint);
      if (!found) {
        found = resolveKey(fingerprint);
        keys.set(fingerprint, found);
        found.catch(() => keys.delete(fingerprint));
      }
      const key = await found;
      return {
        ...key,
        async sign(data) {
          const answer = await unary(
            client,
            "Sign",
            {
              keyId: key.keyId,
              data,
              format: "SIGNATURE_FORMAT_RAW_DER",
              requestId: `pdf-${fingerprint.slice(0, 12)}`,
            },
            opts.deadlineMs,
          );
          return Buffer.from(answer.signature);
        },
      };
    },
    close: () => client.close(),
  };
}

type Methods = {
  ListKeys: [ListKeysRequestInput, ListKeysResponse];
  GetCertificate: [GetCertificateRequestInput, GetCertificateResponse];
  Sign: [SignRequestInput, SignResponse];
};

function unary<M extends keyof Methods>(
  client: SigningDeviceClient,
  method: M,
  request: Methods[M][0],
  deadlineMs: number,
): Promise<Methods[M][1]> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: one call site for three typed methods
    (client[method] as any)(
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error: grpc.ServiceError | null, answer: Methods[M][1]) => {
        if (error) {
          reject(
            new PdfSigningError(
              `signing gateway ${method}: ${error.details || error.message}`,
              TRANSIENT.has(error.code),
            ),
          );
        } else resolve(answer);
      },
    );
  });
}
