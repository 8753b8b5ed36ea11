import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { status } from "@grpc/grpc-js";
import { phone } from "@piaoju/contracts";
import { PROBLEM_ZH } from "@piaoju/locale/problems";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError, GrpcCode, grpcCodeName, issuesFromZod, problemOf } from "./errors.ts";

describe("GrpcCode", () => {
  it("holds the same numbers as @grpc/grpc-js, so pure code can judge a status without gRPC", () => {
    const fromGrpc = Object.fromEntries(
      Object.entries(status).filter(([name, value]) => typeof value === "number" && !/^\d+$/.test(name)),
    );
    expect(GrpcCode).toEqual(fromGrpc);
  });

  it("names a code, and names nothing for a number that is no code", () => {
    expect(grpcCodeName(14)).toBe("UNAVAILABLE");
    expect(grpcCodeName(99)).toBeUndefined();
  });
});

describe("problems in Chinese and English", () => {
  const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

  /** Every `code: "SOME_CODE"` the source of packages and services throws (tests aside). */
  function thrownCodes(): Set<string> {
    const codes = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === "node_modules" || entry.name === "generated" || entry.name.startsWith("."))
          continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.tsx?$/.test(entry.name) && !/\.spec\.tsx?$/.test(entry.name)) {
          const source = readFileSync(path, "utf8");
          for (const m of source.matchAll(/new AppError\([^;]*?code: "([A-Z][A-Z0-9_]+)"/gs))
            codes.add(m[1]!);
        }
      }
    };
    walk(join(repoRoot, "packages"));
    walk(join(repoRoot, "services"));
    return codes;
  }

  it("has a Chinese sentence for every error code the platform throws", () => {
    const codes = thrownCodes();
    expect(codes.size).toBeGreaterThan(80);
    const missing = [...codes].filter((code) => !PROBLEM_ZH[code]).sort();
    expect(missing).toEqual([]);
  });

  it("answers each problem with its English detail and its Chinese, field issues included", () => {
    const problem = problemOf(
      AppError.validation([
        { field: "payer.name", rule: "storable_text", message: "contains U+0000 at position 2" },
      ]),
    );
    expect(problem.detailZh).toBe(PROBLEM_ZH.VALIDATION_FAILED);
    expect(problem.issues?.[0]?.messageZh).toMatch(/无法保存/);
    expect(problemOf(new AppError("conflict", "x", { code: "NEVER_SEEN" })).detailZh).toBe("与当前状态冲突");
  });

  it("says in Chinese what each zod rule wants, with its limits", () => {
    const schema = z.strictObject({
      name: z.string().min(1).max(4),
      count: z.number().int().positive(),
      kind: z.enum(["a", "b"]),
      phone: phone,
    });
    const parsed = schema.safeParse({ name: "toolong", count: 0, kind: "c", phone: "12", extra: 1 });
    expect(parsed.success).toBe(false);
    const zh = Object.fromEntries(issuesFromZod(parsed.error!).map((i) => [i.field, i.messageZh]));
    expect(zh).toEqual({
      name: "最多 4 个字符",
      count: "必须大于零",
      kind: "取值应为以下之一：a、b",
      phone: "应为11位手机号、带区号的固定电话（如 010-12345678）或 +国家代码号码",
      extra: "请求中不应有此字段（或该字段由平台填写）",
    });
    const missing = z.object({ name: z.string() }).safeParse({});
    expect(issuesFromZod(missing.error!)[0]?.messageZh).toBe("必填");
  });
});
