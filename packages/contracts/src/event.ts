import type { z } from "zod";
import type { TopicName } from "./topics.ts";

/** A version of an event older than the latest, with the step that lifts its data one version up. */
export interface OlderVersion {
  readonly version: number;
  readonly schema: z.ZodType;
  readonly toNext: (data: never) => unknown;
}

/** Declares an older version and keeps the upcaster typed against that version's schema. */
export function olderVersion<S extends z.ZodType>(
  version: number,
  schema: S,
  toNext: (data: z.infer<S>) => unknown,
): OlderVersion {
  return { version, schema, toNext };
}

export interface EventDefinition<TType extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: TType;
  readonly topic: TopicName;
  readonly version: number;
  readonly schema: S;
  readonly partitionKey: (data: z.infer<S>) => string;
  readonly olderVersions: readonly OlderVersion[];
  /**
   * The fields of `data` that are personal (the payer, a document naming them), as dot paths
   * ("payer", "settlement.account"). The bus seals them on the way to the outbox and opens them
   * before a handler sees the event (docs/adr/0025-sealed-events.md). Each path must hold in
   * every version of the event, the older ones included: values are opened before upcasting.
   */
  readonly personal: readonly string[];
}

export function defineEvent<const TType extends string, S extends z.ZodType>(def: {
  type: TType;
  topic: TopicName;
  version: number;
  schema: S;
  partitionKey: (data: z.infer<S>) => string;
  olderVersions?: readonly OlderVersion[];
  personal?: readonly string[];
}): EventDefinition<TType, S> {
  const olderVersions = [...(def.olderVersions ?? [])].sort((a, b) => a.version - b.version);
  olderVersions.forEach((older, index) => {
    const expected = def.version - olderVersions.length + index;
    if (older.version !== expected) {
      throw new Error(`${def.type}: older versions must run without gaps up to ${def.version - 1}`);
    }
  });
  for (const path of def.personal ?? [])
    if (!/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(path))
      throw new Error(
        `${def.type}: a personal path is field names joined by dots, not ${JSON.stringify(path)}`,
      );
  return { ...def, olderVersions, personal: [...(def.personal ?? [])] };
}

export class EventSchemaError extends Error {
  constructor(
    readonly eventType: string,
    readonly eventVersion: number,
    readonly issues: readonly z.core.$ZodIssue[],
  ) {
    super(
      `${eventType} v${eventVersion}: ${issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    );
    this.name = "EventSchemaError";
  }
}

/**
 * Reads event data written at any known version: validates it against that version's
 * schema, then lifts it step by step to the latest version, which is validated too.
 */
export function readEventData<S extends z.ZodType>(
  def: EventDefinition<string, S>,
  version: number,
  data: unknown,
): z.infer<S> {
  if (version > def.version) {
    throw new EventSchemaError(def.type, version, [
      {
        code: "custom",
        path: [],
        message: `version ${version} is newer than this build knows (${def.version})`,
        input: data,
      },
    ]);
  }
  let current = data;
  for (const older of def.olderVersions) {
    if (older.version < version) continue;
    const parsed = older.schema.safeParse(current);
    if (!parsed.success) throw new EventSchemaError(def.type, older.version, parsed.error.issues);
    current = older.toNext(parsed.data as never);
  }
  if (version < def.version && !def.olderVersions.some((o) => o.version === version)) {
    throw new EventSchemaError(def.type, version, [
      { code: "custom", path: [], message: `version ${version} is unknown`, input: data },
    ]);
  }
  const latest = def.schema.safeParse(current);
  if (!latest.success) throw new EventSchemaError(def.type, def.version, latest.error.issues);
  return latest.data;
}

/** Records an event of a catalog definition, to be published with the transaction's other changes. */
export type Emit = <T extends string, S extends z.ZodType>(
  def: EventDefinition<T, S>,
  data: z.input<S>,
) => void;
