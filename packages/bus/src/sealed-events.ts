import { type Envelope, eventDefinition } from "@piaoju/contracts";
import { type Keyring, SealError, Sealer } from "@piaoju/sealing";

/**
 * Personal fields of events sealed at rest (docs/adr/0025-sealed-events.md): in every service's
 * outbox, on the broker (Kafka's log, the embedded bus' files) and in dead letters.
 *
 * Each path an event's catalog definition lists in `personal` holds, instead of its value,
 *   "sealed:" + base64(seal(context, JSON.stringify(value)))
 * in @piaoju/sealing's format v1, under keys derived for "events" from PIAOJU_SECRETS_KEY (so a
 * rotated key list still opens older events), the context `events/<type>/<event id>/<path>` (a
 * sealed value copied into another event or field does not open). The value is sealed when the
 * event is written to the outbox and opened by the bus before a handler sees it (before upcasting),
 * so services neither seal nor open anything themselves.
 */
export const SEALED_PREFIX = "sealed:";
const EVENTS_PURPOSE = "events";

/** A sealed field did not open: altered, copied from elsewhere, or under a key no longer configured. Never retried. */
export class SealedEventError extends Error {
  override readonly name = "SealedEventError";
}

/** Seals and opens the personal fields of events under one key list (a process's PIAOJU_SECRETS_KEY). */
export class EventSealer {
  readonly #sealer: Sealer;

  /** `rootKeys`: PIAOJU_SECRETS_KEY parsed; the events' own keys are derived from it. */
  constructor(rootKeys: Keyring) {
    this.#sealer = new Sealer(rootKeys.derive(EVENTS_PURPOSE));
  }

  /**
   * The envelope with its personal fields sealed. `alreadySealed: "keep"` leaves a field that already
   * holds a sealed value (an event the relay takes from an outbox); "seal" seals whatever is there.
   */
  seal(envelope: Envelope, alreadySealed: "keep" | "seal" = "seal"): Envelope {
    return transform(envelope, (value, path) => {
      if (alreadySealed === "keep" && isSealed(value)) return value;
      const sealed = this.#sealer.seal(contextOf(envelope, path), JSON.stringify(value));
      return `${SEALED_PREFIX}${sealed.toString("base64")}`;
    });
  }

  /** The envelope with its sealed fields opened; fields in clear (events written before sealing) as they are. */
  open(envelope: Envelope): Envelope {
    return transform(envelope, (value, path) => {
      if (!isSealed(value)) return value;
      const context = contextOf(envelope, path);
      try {
        return JSON.parse(
          this.#sealer.unsealText(context, Buffer.from(value.slice(SEALED_PREFIX.length), "base64")),
        ) as unknown;
      } catch (error) {
        const why = error instanceof SealError ? error.message : "its content is not JSON";
        throw new SealedEventError(
          `${envelope.type} ${envelope.id}: the sealed field ${path} does not open (${why})`,
        );
      }
    });
  }
}

/** What each process that writes or reads events seals and opens with: installed by the platform. */
const installed: EventSealer[] = [];

/**
 * Makes this process seal events' personal fields with these keys (PIAOJU_SECRETS_KEY) and open
 * them with them. The platform calls it at start; a process that reads Piaoju's topics itself (a
 * test probe, a tool) calls it too. Returns the undo (the platform's stop). Of several installed
 * (tests run platforms side by side), the last seals and each opens.
 */
export function installEventSealing(rootKeys: Keyring): () => void {
  const sealer = new EventSealer(rootKeys);
  installed.push(sealer);
  return () => {
    const at = installed.indexOf(sealer);
    if (at >= 0) installed.splice(at, 1);
  };
}

/** Has the event personal fields (per the catalog)? Events the catalog does not know have none. */
function personalPaths(envelope: Envelope): readonly string[] {
  return eventDefinition(envelope.type)?.personal ?? [];
}

/** The envelope as it goes to the outbox or the broker: personal fields sealed. Throws when it has some and no keys are installed. */
export function sealEvent(envelope: Envelope, alreadySealed: "keep" | "seal" = "seal"): Envelope {
  if (personalPaths(envelope).length === 0) return envelope;
  const sealer = installed.at(-1);
  if (!sealer)
    throw new Error(
      `${envelope.type} carries personal data, which is sealed at rest: PIAOJU_SECRETS_KEY is required to write it`,
    );
  return sealer.seal(envelope, alreadySealed);
}

/** The envelope as a handler sees it: sealed fields opened. Throws SealedEventError when one does not open. */
export function openEvent(envelope: Envelope): Envelope {
  const paths = personalPaths(envelope);
  if (paths.length === 0 || !paths.some((p) => isSealed(read(envelope.data, p)))) return envelope;
  if (installed.length === 0)
    throw new SealedEventError(
      `${envelope.type} ${envelope.id} has sealed personal fields and this process has no PIAOJU_SECRETS_KEY to open them`,
    );
  let first: unknown;
  for (const sealer of [...installed].reverse()) {
    try {
      return sealer.open(envelope);
    } catch (error) {
      first ??= error;
    }
  }
  throw first;
}

function isSealed(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(SEALED_PREFIX);
}

function contextOf(envelope: Envelope, path: string): string {
  return `events/${envelope.type}/${envelope.id}/${path}`;
}

/** A copy of the envelope with each present personal field replaced (absent ones stay absent). */
function transform(envelope: Envelope, replace: (value: unknown, path: string) => unknown): Envelope {
  const paths = personalPaths(envelope);
  if (paths.length === 0) return envelope;
  let data = envelope.data;
  for (const path of paths) {
    const value = read(data, path);
    if (value === undefined) continue;
    data = write(data, path.split("."), replace(value, path));
  }
  return data === envelope.data ? envelope : { ...envelope, data };
}

function read(data: unknown, path: string): unknown {
  let at: unknown = data;
  for (const key of path.split(".")) {
    if (typeof at !== "object" || at === null || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Writes without touching the original (an envelope may be held elsewhere, e.g. by the caller). */
function write(data: unknown, keys: readonly string[], value: unknown): unknown {
  const [key, ...rest] = keys as [string, ...string[]];
  const object = data as Record<string, unknown>;
  return { ...object, [key]: rest.length === 0 ? value : write(object[key], rest, value) };
}
