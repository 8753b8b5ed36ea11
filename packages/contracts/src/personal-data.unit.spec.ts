import { describe, expect, it } from "vitest";
import { z } from "zod";
import { events } from "./catalog.ts";
import { defineEvent } from "./event.ts";
import { payerSchema } from "./events/payment.ts";
import { PERSONAL_FIELD_NAMES } from "./fields/personal.ts";
import { topics } from "./topics.ts";

type Found = { path: string; why: string };

/** Every field of a schema, with its dot path (arrays are walked into, their index left out). */
function fieldsOf(schema: z.ZodType, prefix = "", out: Found[] = []): Found[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case "object":
      for (const [key, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (PERSONAL_FIELD_NAMES.has(key)) out.push({ path, why: `its name (${key})` });
        if (unwrap(field) === payerSchema) out.push({ path, why: "it is a payer" });
        fieldsOf(field, path, out);
      }
      break;
    case "optional":
    case "nullable":
    case "default":
    case "readonly":
      fieldsOf(def.innerType as z.ZodType, prefix, out);
      break;
    case "array":
      fieldsOf(def.element as z.ZodType, prefix, out);
      break;
    case "pipe":
      fieldsOf(def.in as z.ZodType, prefix, out);
      break;
    case "union":
      for (const option of def.options as z.ZodType[]) fieldsOf(option, prefix, out);
      break;
  }
  return out;
}

function unwrap(schema: z.ZodType): z.ZodType {
  const def = (schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType } } })._zod.def;
  return def.innerType && ["optional", "nullable", "default", "readonly"].includes(def.type)
    ? unwrap(def.innerType)
    : schema;
}

const covered = (path: string, declared: readonly string[]) =>
  declared.some((d) => path === d || path.startsWith(`${d}.`));

const definitions = Object.values(events);

describe("personal data in events", () => {
  for (const def of definitions) {
    const versions = [
      { version: def.version, schema: def.schema as z.ZodType },
      ...def.olderVersions.map((o) => ({ version: o.version, schema: o.schema })),
    ];
    it(`${def.type}: every personal field is declared, in every version`, () => {
      for (const { version, schema } of versions) {
        const undeclared = fieldsOf(schema).filter((f) => !covered(f.path, def.personal));
        expect(
          undeclared.map((f) => `v${version} ${f.path}: personal by ${f.why}`),
          `${def.type} must list these in personal`,
        ).toEqual([]);
      }
    });
    if (def.personal.length > 0)
      it(`${def.type}: every declared path is a field of every version`, () => {
        for (const { version, schema } of versions) {
          const paths = new Set(allPaths(schema));
          for (const p of def.personal) expect(paths.has(p), `${def.type} v${version} has ${p}`).toBe(true);
        }
      });
  }

  it("declares the payer and the document where they travel (issue #9)", () => {
    const personal = Object.fromEntries(definitions.map((d) => [d.type, d.personal]));
    expect(personal["issuance.ReceiptRequested"]).toContain("document");
    expect(personal["issuance.ReceiptSubmittedForSupervision"]).toContain("document");
    expect(personal["issuance.ReceiptIssued"]).toEqual(
      expect.arrayContaining(["payer", "document", "remark"]),
    );
    expect(personal["payment.PaymentCompleted"]).toEqual(expect.arrayContaining(["payer", "remark"]));
  });

  it("finds an undeclared payer, so the check above can fail", () => {
    const leaky = z.object({
      id: z.string(),
      who: payerSchema.optional(),
      notes: z.array(z.object({ email: z.string() })),
    });
    expect(fieldsOf(leaky).map((f) => f.path)).toEqual(["who", "who.phone", "who.email", "notes.email"]);
  });

  it("refuses a personal path that is not field names", () => {
    expect(() =>
      defineEvent({
        type: "test.Bad",
        topic: topics.payment,
        version: 1,
        schema: payerSchema,
        partitionKey: () => "k",
        personal: ["payer[0]"],
      }),
    ).toThrowError(/field names joined by dots/);
  });
});

function allPaths(schema: z.ZodType, prefix = "", out: string[] = []): string[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  if (def.type === "object")
    for (const [key, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
      const path = prefix ? `${prefix}.${key}` : key;
      out.push(path);
      allPaths(unwrap(field), path, out);
    }
  else if (def.type === "pipe") allPaths(def.in as z.ZodType, prefix, out);
  return out;
}
