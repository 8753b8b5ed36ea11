import { access, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "./database.ts";

const root = await mkdtemp(join(tmpdir(), "piaoju-pglite-template-"));
afterAll(() => rm(root, { recursive: true, force: true }));

describe("PGlite data folders from a template", () => {
  it("makes the template once and gives each new folder its own independent cluster", async () => {
    const template = join(root, "template");
    const [a, b] = await Promise.all([
      openDatabase({ kind: "pglite", dataDir: join(root, "a", "pg"), template }),
      openDatabase({ kind: "pglite", dataDir: join(root, "b", "pg"), template }),
    ]);
    try {
      await a.exec(
        "CREATE TABLE receipt (number text PRIMARY KEY); INSERT INTO receipt VALUES ('0000000001')",
      );
      expect(await a.query("SELECT number FROM receipt")).toEqual([{ number: "0000000001" }]);
      await expect(b.query("SELECT number FROM receipt")).rejects.toThrow(/receipt/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    // One template, no scratch folders left behind by the two concurrent opens.
    expect((await readdir(root)).sort()).toEqual(["a", "b", "template"]);
    await access(join(template, "PG_VERSION"));
    // The template itself stays empty: it is never opened as a database.
    const again = await openDatabase({ kind: "pglite", dataDir: join(root, "c", "pg"), template });
    try {
      await expect(again.query("SELECT number FROM receipt")).rejects.toThrow(/receipt/);
    } finally {
      await again.close();
    }
  });

  it("keeps the data of an existing folder when it is opened again with a template", async () => {
    const template = join(root, "template2");
    const dataDir = join(root, "kept", "pg");
    const first = await openDatabase({ kind: "pglite", dataDir, template });
    await first.exec("CREATE TABLE segment (id int); INSERT INTO segment VALUES (7)");
    await first.close();
    const second = await openDatabase({ kind: "pglite", dataDir, template });
    try {
      expect(await second.query("SELECT id FROM segment")).toEqual([{ id: 7 }]);
    } finally {
      await second.close();
    }
  });
});
