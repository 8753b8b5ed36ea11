import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ServiceModule } from "@piaoju/runtime";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { configFiles } from "./cli/commands/config.ts";
import { repoRoot } from "./cli/program.ts";
import { buildCatalog } from "./config-catalog.ts";
import { services } from "./services.ts";

// docs/CONFIG.md and .env.example are generated from the schemas that parse the environment;
// this keeps them equal, every variable described, and each shared one declared once.
describe("the configuration catalog", () => {
  it("has every service's schema, each variable described, none declared twice", () => {
    const catalog = buildCatalog(services);
    expect(catalog.problems).toEqual([]);
    const names = catalog.sections.flatMap((s) => s.entries.map((e) => e.name));
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(["PIAOJU_INTERNAL_TOKEN", "FINANCE_URL", "PIAOJU_SIGNING_DEVICES"]),
    );
    expect(catalog.sharedBy.get("PIAOJU_INTERNAL_TOKEN")).toEqual(
      expect.arrayContaining(["platform", "stock", "issuance", "gateway"]),
    );
  });

  it("says when a service declares a shared variable again instead of using the shared one", () => {
    const rogue: ServiceModule = {
      name: "rogue",
      migrationsDir: "",
      config: z.object({
        PIAOJU_INTERNAL_TOKEN: z.string().meta({ description: "a second rule for the same variable" }),
        PIAOJU_ROGUE_FLAG: z.string().optional(),
      }),
      start: () => Promise.reject(new Error("not started here")),
    };
    const { problems } = buildCatalog([...services, rogue]);
    expect(problems).toEqual([
      expect.stringMatching(/^PIAOJU_INTERNAL_TOKEN: declared by platform, .* and again by rogue/),
      expect.stringMatching(/^PIAOJU_ROGUE_FLAG \(rogue\): no description/),
    ]);
  });

  it("is what docs/CONFIG.md and .env.example hold (./piaoju config --write regenerates them)", async () => {
    for (const file of await configFiles()) {
      expect(
        readFileSync(join(repoRoot, file.path), "utf8"),
        `${file.path}: run ./piaoju config --write`,
      ).toBe(file.text);
    }
  });

  it("shows in .env.example only values their schema accepts", () => {
    const catalog = buildCatalog(services);
    for (const e of catalog.sections.flatMap((s) => s.entries)) {
      for (const value of [e.example, e.defaultIsText ? undefined : e.default]) {
        if (value === undefined || e.secret) continue;
        expect(e.schema.safeParse(value).success, `${e.name}=${value}`).toBe(true);
      }
    }
  });
});
