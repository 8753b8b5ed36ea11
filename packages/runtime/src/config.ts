import { z } from "zod";

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses configuration once, at start. The schema's keys are environment variable
 * names; every problem is reported at once, by variable. Nothing else reads process.env.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`));
}

/**
 * What the configuration catalog (docs/CONFIG.md, .env.example) says of a variable: put on it with
 * `.meta({...})` as the last call of its schema. `description` is required of every variable.
 */
export interface ConfigMeta {
  description: string;
  /** A secret: .env.example leaves it empty and says how to make one; never logged. */
  secret?: boolean;
  /** The default as a person reads it, where the schema's default depends on the machine. */
  defaultText?: string;
  /** A value to show in .env.example for a variable without a default. */
  example?: string;
}

/** One environment variable as the catalog lists it. */
export interface ConfigEntry {
  readonly name: string;
  readonly description: string;
  readonly required: boolean;
  readonly default?: string;
  /** The default is a description (defaultText), not a value to write in a file. */
  readonly defaultIsText: boolean;
  readonly secret: boolean;
  readonly example?: string;
  /** The schema itself: the same object where a variable is shared, so the catalog can tell. */
  readonly schema: z.ZodType;
}

/** The variables of a configuration schema, for the catalog (the runner's `piaoju config`). */
export function configEntries(schema: z.ZodObject): ConfigEntry[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const meta = z.globalRegistry.get(field as z.ZodType) as Partial<ConfigMeta> | undefined;
    const unset = (field as z.ZodType).safeParse(undefined);
    const value = unset.success ? unset.data : undefined;
    const shown =
      meta?.defaultText ??
      (value === undefined || (Array.isArray(value) && value.length === 0) ? undefined : String(value));
    return {
      name,
      description: meta?.description ?? "",
      required: !unset.success,
      ...(shown !== undefined ? { default: shown } : {}),
      defaultIsText: meta?.defaultText !== undefined,
      secret: meta?.secret === true,
      ...(meta?.example !== undefined ? { example: meta.example } : {}),
      schema: field as z.ZodType,
    };
  });
}

/**
 * Variables several services read, declared once: each service's schema spreads the ones it uses,
 * so every service reads them with the same rule and the catalog lists them once.
 */
export const sharedConfig = {
  PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters").meta({
    description:
      "Service-to-service bearer token: services accept their internal API only with it; operators use it for the platform's admin routes (dead letters).",
    secret: true,
  }),
  PIAOJU_SECRETS_KEY: z
    .string()
    // @piaoju/sealing's KEYRING_PATTERN: one key, or several while rotating.
    .regex(
      /^[0-9a-fA-F]{32}(,[0-9a-fA-F]{32})*$/,
      "SM4 keys: 32 hex digits each, comma-separated, current first",
    )
    .meta({
      description:
        "SM4 keys (32 hex digits each, comma-separated, current first) sealing personal data and credentials at rest (@piaoju/sealing, docs/adr/0015: payer data, documents, app secrets, webhook secrets, pick-up tokens), and the personal fields of events in outboxes, on the bus and in dead letters (every service that writes or reads them needs the same list; ADR: sealed events). To rotate, put the new key first; each service seals stale values again on start, then the old key can go (once no event sealed under it is kept: bus retention, dead letters). A root key: never in a backup. Embedded: made once and kept in .data/secrets.",
      secret: true,
    }),
  PIAOJU_PUBLIC_URL: z.url().optional().meta({
    description:
      "The platform's public address: pick-up links in messages (H5), channels' notify URLs and the cashier's QR URLs start with it.",
    example: "https://piaoju.example.gov.cn",
  }),
  PIAOJU_CJK_FONT: z.string().optional().meta({
    description:
      "Path of a CJK font for PDFs (receipts, report exports). Default: the Debian font the install brings (fonts-wqy-microhei).",
  }),
} as const;
