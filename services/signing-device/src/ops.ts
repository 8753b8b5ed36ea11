/**
 * What the main thread asks a worker to do, and what comes back. Everything here crosses
 * postMessage (structured clone): plain objects, strings and Uint8Arrays only.
 */

export type RawFormat = "der" | "raw";

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
    };

export type OpValue =
  | { kind: "signature"; signature: Uint8Array }
  | { kind: "verdict"; valid: boolean; reason: string; signerFingerprint: string };

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
