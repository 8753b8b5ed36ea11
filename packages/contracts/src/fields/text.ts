import { z } from "zod";

/**
 * The one rule for text the platform stores, signs and puts into XML documents.
 *
 * XML 1.0 (Char production) holds tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD and U+10000 and up;
 * PostgreSQL's text holds no U+0000 and no lone UTF-16 surrogate (it stores UTF-8). So refused:
 * U+0000, the other C0 controls except tab/LF/CR, U+FFFE, U+FFFF and lone surrogates. Every API
 * schema's text field uses `text()`, and the HTTP frame (packages/runtime) applies the same rule to
 * every string of every request before a handler runs, so no route can forget it.
 */
// In UTF-16 code units (no `u` flag), so that a lone surrogate is seen as one.
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the rule's purpose
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where the first character the platform cannot hold is, and what it is; undefined when none. */
export function unstorableCharacter(value: string): { index: number; codePoint: string } | undefined {
  const match = FORBIDDEN.exec(value);
  return match ? { index: match.index, codePoint: codePointName(match[0]!.charCodeAt(0)) } : undefined;
}

/** Why a text cannot be stored, in words a caller can act on; undefined when it can. */
export function unstorableTextProblem(value: string): string | undefined {
  const found = unstorableCharacter(value);
  return found
    ? `contains ${found.codePoint} at position ${found.index}: control characters (other than tab, LF, CR), ` +
        "U+FFFE/U+FFFF and lone surrogates cannot be stored or put into an XML document"
    : undefined;
}

/** The rule's name in a problem document's `issues[].rule`. */
export const STORABLE_TEXT_RULE = "storable_text";

function codePointName(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * A text field: a string the platform can store and put into XML. Chain the field's own rules
 * after it (`text().trim().min(1).max(100)`).
 */
export function text(): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const problem = unstorableTextProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, params: { rule: STORABLE_TEXT_RULE } });
  });
}

/**
 * Every string in a parsed value (keys included) checked against the rule; each problem with
 * the path of the field (`payer.name`, `items.0.itemCode`). The walk is bounded by the depth the
 * JSON reader allowed.
 */
export function findUnstorableText(
  value: unknown,
  path: readonly (string | number)[] = [],
  found: { path: (string | number)[]; message: string }[] = [],
  limit = 20,
): { path: (string | number)[]; message: string }[] {
  if (found.length >= limit) return found;
  if (typeof value === "string") {
    const problem = unstorableTextProblem(value);
    if (problem) found.push({ path: [...path], message: problem });
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) findUnstorableText(v, [...path, i], found, limit);
  } else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      const keyProblem = unstorableTextProblem(key);
      if (keyProblem) {
        found.push({ path: [...path, JSON.stringify(key)], message: `the field name ${keyProblem}` });
      } else {
        findUnstorableText(v, [...path, key], found, limit);
      }
    }
  }
  return found;
}
