/**
 * What the main thread asks a worker to do, and what comes back. Everything here crosses
 * postMessage (structured clone): plain objects, strings and Uint8Arrays only.
 */

export type RawFormat = "der" | "raw";

/** PKCS7_PROFILES' names in @piaoju/gm-crypto: which GM/T 0010 identifiers a peer reads (ADR 0019). */
export type ProfileName = "default" | "gmssl" | "gmt0010";

export type Signer = { keyId: string } | { certificate: Uint8Array } | { publicKey: Uint8Array };

export type Op =
  | { kind: "sign"; keyId: string; data: Uint8Array; userId?: string | undefined; format: RawFormat }
  | { kind: "signDigest"; keyId: string; digest: Uint8Array; format: RawFormat }
  | {
      kind: "verify";
      signer: Signer;
      data: Uint8Array;
      signature: Uint8Array;
      userId?: string | undefined;
      format: RawFormat;
    }
  /** GM/T 0010 SignedData with the key's certificate (and chain): over `data`, or from `digest` (plain SM3 of the content, detached only). */
  | {
      kind: "signPkcs7";
      keyId: string;
      data?: Uint8Array | undefined;
      digest?: Uint8Array | undefined;
      userId?: string | undefined;
      detached: boolean;
      profile: ProfileName;
    }
  /** A SignedData checked with the certificate inside it; `signer`, when given, must be that certificate's key. */
  | {
      kind: "verifyPkcs7";
      signer?: Signer | undefined;
      data: Uint8Array;
      signature: Uint8Array;
      userId?: string | undefined;
      attached: boolean;
    }
  /** An enveloped ds:Signature (SM2-SM3) over the UTF-8 XML document `data`, KeyInfo the key's certificate. */
  | { kind: "signXml"; keyId: string; data: Uint8Array; userId?: string | undefined }
  /** A signed XML document checked with the certificate in its KeyInfo; `signer`, when given, must be it. */
  | { kind: "verifyXml"; signer?: Signer | undefined; document: Uint8Array; userId?: string | undefined }
  /** A PKCS#10 request for the key's public key and `subject`, signed with the key. */
  | {
      kind: "makeCsr";
      keyId: string;
      subject: { commonName: string; organization?: string; organizationalUnit?: string; country?: string };
    }
  | { kind: "makeEnvelope"; recipients: Uint8Array[]; content: Uint8Array; profile: ProfileName }
  | { kind: "openEnvelope"; keyId: string; envelope: Uint8Array };

export type OpValue =
  | { kind: "signature"; signature: Uint8Array }
  | { kind: "verdict"; valid: boolean; reason: string; signerFingerprint: string }
  | { kind: "envelope"; envelope: Uint8Array }
  | { kind: "csr"; der: Uint8Array }
  | { kind: "content"; content: Uint8Array };

/** A failed op: a gRPC status code and a message safe to show; `internal` only for the log. */
export interface OpFailure {
  ok: false;
  code: number;
  message: string;
  internal?: string;
}

export type OpResult = { ok: true; value: OpValue } | OpFailure;

/** main → worker */
export type ToWorker = { type: "run"; chunk: number; ops: Op[] };

/** worker → main */
export type FromWorker =
  | { type: "ready"; keys: { keyId: string; publicKey: Uint8Array }[] }
  | { type: "failed"; message: string }
  | { type: "done"; chunk: number; results: OpResult[] };

export interface WorkerInit {
  keystoreDir: string;
  keystoreKey: Uint8Array;
  keyIds: string[];
}
