import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type Certificate,
  createEnvelopedData,
  createSignedData,
  GmCryptoError,
  openEnvelopedData,
  PKCS7_PROFILES,
  type Pkcs7Profile,
  type Sm2PrivateKey,
  sm3,
  verifySignedData,
} from "@piaoju/gm-crypto";

/** Who this end of the ferry is: its SM2 key and certificate (signs what it sends, opens what it receives). */
export interface FerryIdentity {
  key: Sm2PrivateKey;
  cert: Certificate;
}

export interface FerrySpoolOptions {
  /** Files for the other side: the ferry picks them up from here. */
  outDir: string;
  /** Files from the other side: the ferry drops them here. */
  inDir: string;
  self: FerryIdentity;
  /** The other side's certificate: files are enveloped to it, and must be signed by it. */
  peer: Certificate;
  /** When given, the peer's certificate must also chain to one of these. */
  trusted?: Certificate[];
  /** The PKCS#7 forms the peer reads (ADR 0007); default PKCS7_PROFILES.default. Both forms are read. */
  pkcs7?: Pkcs7Profile;
  /** A file that is refused (not for us, bad signature, unreadable): reported, moved aside, never applied. */
  onRejected?: (rejection: FerryRejectionReport) => Promise<void> | void;
}

export interface FerryRejectionReport {
  fileName: string;
  fileSm3: string;
  reason: string;
}

export interface ArrivedFile {
  fileName: string;
  /** The signed content, verified: JSON as the sender wrote it. */
  content: unknown;
  bytes: Uint8Array;
  /** Moves the file to `.done/` once its effects are committed (a crash before that re-reads it: harmless). */
  settle(): Promise<void>;
}

export const FERRY_SUFFIX = ".p7m";
const TEMP_DIR = ".tmp";
const DONE_DIR = ".done";
const REJECTED_DIR = ".rejected";

/**
 * One end of the boundary ferry (边界摆渡): messages as files in spool folders. A file is
 * the JSON message, signed (PKCS#7 SignedData, SM2, attached) and then enveloped to the peer
 * (PKCS#7 EnvelopedData: a fresh SM4 key under the peer's SM2 certificate). It is written to
 * a temporary folder and renamed into the spool, so the ferry never sees half a file; a crash
 * mid-write leaves only a temporary file, cleared by `recover()`, and the message is written
 * again by whoever still holds it unanswered. Reading is idempotent by the message id the
 * caller keeps; a file stays in the spool until settled.
 */
export class FerrySpool {
  constructor(private readonly options: FerrySpoolOptions) {}

  /** Creates the folders and removes temporary files a crash left behind. */
  async recover(): Promise<void> {
    for (const dir of [this.options.outDir, this.options.inDir]) await mkdir(dir, { recursive: true });
    await rm(join(this.options.outDir, TEMP_DIR), { recursive: true, force: true });
    for (const sub of [TEMP_DIR, DONE_DIR, REJECTED_DIR])
      await mkdir(join(this.options.outDir, sub), { recursive: true });
    for (const sub of [DONE_DIR, REJECTED_DIR])
      await mkdir(join(this.options.inDir, sub), { recursive: true });
  }

  /** Seals a message for the peer: sign, envelope. */
  seal(content: unknown): Buffer {
    const signed = createSignedData({
      content: Buffer.from(JSON.stringify(content), "utf8"),
      detached: false,
      signerKey: this.options.self.key,
      signerCert: this.options.self.cert,
      signatureAlgorithm: (this.options.pkcs7 ?? PKCS7_PROFILES.default).signatureAlgorithm,
    });
    return createEnvelopedData({
      content: signed,
      recipients: [this.options.peer],
      form: (this.options.pkcs7 ?? PKCS7_PROFILES.default).envelope,
    });
  }

  /** Writes a message for the ferry, atomically (temporary file, then rename). Rewriting the same id replaces it. */
  async write(messageId: string, content: unknown): Promise<void> {
    const bytes = this.seal(content);
    const temp = join(this.options.outDir, TEMP_DIR, `${messageId}.${randomBytes(4).toString("hex")}.part`);
    await mkdir(join(this.options.outDir, TEMP_DIR), { recursive: true });
    await writeFile(temp, bytes);
    await rename(temp, join(this.options.outDir, `${messageId}${FERRY_SUFFIX}`));
  }

  /** Opens a sealed file: it must be enveloped to us and signed by the peer. Throws FerryFileRefused otherwise. */
  open(bytes: Uint8Array): unknown {
    let signed: Buffer;
    try {
      signed = openEnvelopedData(bytes, { key: this.options.self.key, cert: this.options.self.cert });
    } catch (error) {
      if (error instanceof GmCryptoError && error.code === "NOT_A_RECIPIENT")
        throw new FerryFileRefused(`wrong recipient: ${error.message}`);
      throw new FerryFileRefused(`not an envelope for this end: ${(error as Error).message}`);
    }
    let verified: ReturnType<typeof verifySignedData>;
    try {
      verified = verifySignedData(signed, {
        certificates: [this.options.peer],
        ...(this.options.trusted ? { trusted: this.options.trusted } : {}),
      });
    } catch (error) {
      throw new FerryFileRefused(`bad signature: unreadable SignedData (${(error as Error).message})`);
    }
    if (!verified.valid) throw new FerryFileRefused(`bad signature: ${verified.reason}`);
    if (!verified.signer?.equals(this.options.peer)) {
      throw new FerryFileRefused(`bad signature: signed by "${verified.signer?.subject.text}", not the peer`);
    }
    try {
      return JSON.parse(Buffer.from(verified.content!).toString("utf8"));
    } catch {
      throw new FerryFileRefused("signed content is not JSON");
    }
  }

  /**
   * Files the ferry delivered, oldest first, opened and verified. Refused files are reported
   * and moved to `.rejected/`; what they would have said is never applied.
   */
  async read(limit = 100): Promise<ArrivedFile[]> {
    const names = (await readdir(this.options.inDir)).filter((n) => n.endsWith(FERRY_SUFFIX));
    const dated = await Promise.all(
      names.map(async (n) => ({
        n,
        t: (await stat(join(this.options.inDir, n)).catch(() => undefined))?.mtimeMs,
      })),
    );
    const ordered = dated
      .filter((d) => d.t !== undefined)
      .sort((a, b) => a.t! - b.t!)
      .slice(0, limit);
    const arrived: ArrivedFile[] = [];
    for (const { n } of ordered) {
      const path = join(this.options.inDir, n);
      const bytes = await readFile(path).catch(() => undefined);
      if (!bytes) continue;
      try {
        arrived.push({
          fileName: n,
          bytes,
          content: this.open(bytes),
          settle: () => this.#moveAside(n, DONE_DIR),
        });
      } catch (error) {
        if (!(error instanceof FerryFileRefused)) throw error;
        await this.reject(n, bytes, error.message);
      }
    }
    return arrived;
  }

  /** Reports a refused file and moves it aside (also for content that opened but does not fit the protocol). */
  async reject(fileName: string, bytes: Uint8Array, reason: string): Promise<void> {
    await this.options.onRejected?.({ fileName, fileSm3: sm3(bytes).toString("hex"), reason });
    await this.#moveAside(fileName, REJECTED_DIR);
  }

  async #moveAside(fileName: string, sub: string): Promise<void> {
    const target = join(
      this.options.inDir,
      sub,
      `${Date.now()}-${randomBytes(3).toString("hex")}-${fileName}`,
    );
    await rename(join(this.options.inDir, fileName), target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }
}

/** A ferry file that is not for us, not from the peer, or not readable. */
export class FerryFileRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FerryFileRefused";
  }
}
