import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FERRY_SUFFIX } from "../transport/ferry-spool.ts";

export interface FerryMoverOptions {
  /** Pairs of folders: files appearing in `from` are delivered into `to`. */
  routes: Array<{ from: string; to: string }>;
  /** Each file is delivered after a random delay up to this (so files overtake each other). */
  maxDelayMs: number;
  /** Fraction of files delivered twice (a second copy, later, under another name). */
  duplicateRate: number;
  pollMs?: number;
  /**
   * What an attacker or a faulty ferry does to a file on its way: return other bytes to
   * deliver instead, or undefined to deliver it as it is. Called once per picked file.
   */
  tamper?: (file: {
    route: number;
    name: string;
    bytes: Buffer;
  }) => Promise<Buffer | undefined> | Buffer | undefined;
}

/**
 * The boundary platform's ferry as tests need it: it picks up finished files and delivers
 * them across after a random delay (out of order), some twice, writing each delivery
 * atomically (temporary name, then rename) as a real ferry does.
 */
export class FerryMover {
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();
  #stopped = false;
  readonly counts = { picked: 0, delivered: 0, duplicated: 0 };

  constructor(private readonly options: FerryMoverOptions) {}

  async start(): Promise<void> {
    for (const r of this.options.routes) {
      await mkdir(r.from, { recursive: true });
      await mkdir(r.to, { recursive: true });
    }
    const tick = async () => {
      if (this.#stopped) return;
      await this.#sweep().catch(() => {});
      if (!this.#stopped) this.#timer = setTimeout(tick, this.options.pollMs ?? 50);
    };
    void tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  async #sweep(): Promise<void> {
    for (const [route, { from, to }] of this.options.routes.entries()) {
      for (const name of await readdir(from)) {
        if (!name.endsWith(FERRY_SUFFIX)) continue;
        const source = join(from, name);
        // Take the file off the sender's spool (as the ferry does), then deliver it later.
        const held = join(from, `.ferry-${randomBytes(4).toString("hex")}-${name}.held`);
        try {
          await rename(source, held);
        } catch {
          continue;
        }
        this.counts.picked++;
        const copies = Math.random() < this.options.duplicateRate ? 2 : 1;
        if (copies === 2) this.counts.duplicated++;
        const job = this.#tamper(route, held, name).then(() => this.#deliver(held, to, name, copies));
        this.#inFlight.add(job);
        void job.finally(() => this.#inFlight.delete(job));
      }
    }
  }

  async #tamper(route: number, held: string, name: string): Promise<void> {
    if (!this.options.tamper) return;
    const replaced = await this.options.tamper({ route, name, bytes: await readFile(held) });
    if (replaced) await writeFile(held, replaced);
  }

  async #deliver(held: string, to: string, name: string, copies: number): Promise<void> {
    for (let i = 0; i < copies; i++) {
      await sleep(Math.random() * this.options.maxDelayMs);
      const target = i === 0 ? name : name.replace(FERRY_SUFFIX, `.copy${i}${FERRY_SUFFIX}`);
      const temp = join(to, `.incoming-${randomBytes(4).toString("hex")}`);
      await copyFile(held, temp);
      await rename(temp, join(to, target));
      this.counts.delivered++;
    }
    await rm(held, { force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
