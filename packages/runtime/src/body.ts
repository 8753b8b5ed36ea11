import { findUnstorableText } from "@piaoju/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError, type FieldIssue } from "./errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The body's bytes exactly as received: what a signature covers. */
    rawBody?: Buffer;
  }
  interface FastifyContextConfig {
    /**
     * The route authenticates its caller by a signature over the body's bytes: the body is kept
     * raw (after the size limit) and read only once the signature holds (`signedJsonBody`).
     */
    signedBody?: boolean;
  }
}

/** How deep a JSON body may nest. The deepest request any route takes is 4 levels; 32 leaves room. */
export const DEFAULT_MAX_JSON_DEPTH = 32;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The one JSON body reader of every service (installed by `createHttpApp`). In order, each step
 * linear in the body's size and none recursive: the size limit (Fastify's bodyLimit, before any
 * byte is read past it), UTF-8 that decodes, nesting no deeper than `maxDepth` and no key twice
 * in an object (a single pass over the text), then `JSON.parse`, then the shared text rule
 * (packages/contracts) on every string and key. Each refusal is a 400 naming the field.
 */
export function readJsonBody(raw: Buffer, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  if (raw.length === 0) return undefined;
  let source: string;
  try {
    source = utf8.decode(raw);
  } catch {
    throw bodyProblem("body", "utf8", "the body is not valid UTF-8");
  }
  scanStructure(source, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw bodyProblem("body", "json", `the body is not valid JSON (${(error as Error).message})`);
  }
  refuseUnstorableText(value, "body");
  return value;
}

/**
 * A signed route's body, read (with every check of `readJsonBody`) once the caller's signature
 * over `req.rawBody` held.
 */
export function signedJsonBody(req: FastifyRequest): unknown {
  return req.rawBody ? readJsonBody(req.rawBody, DEFAULT_MAX_JSON_DEPTH) : undefined;
}

/** The shared text rule over a parsed value (a body, a query, path parameters). */
export function refuseUnstorableText(value: unknown, place: string): void {
  const found = findUnstorableText(value);
  if (found.length > 0) {
    throw AppError.validation(
      found.map(
        (f): FieldIssue => ({
          field: [place, ...f.path.map(String)].join("."),
          rule: "storable_text",
          message: f.message,
        }),
      ),
    );
  }
}

function bodyProblem(field: string, rule: string, message: string): AppError {
  return AppError.validation([{ field, rule, message }]);
}

/**
 * One pass over JSON text: refuses nesting deeper than `maxDepth` and a key repeated in one
 * object (JSON.parse would keep the last silently, and two readers could then disagree on what
 * was signed). Syntax is JSON.parse's to judge; this pass only follows strings and brackets.
 */
function scanStructure(source: string, maxDepth: number): void {
  // Per open container: its keys so far (objects) or null (arrays).
  const stack: (Set<string> | null)[] = [];
  const path: string[] = [];
  let expectKey = false;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i + 1;
      let escaped = false;
      i++;
      for (; i < source.length; i++) {
        const d = source.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const rawKey = source.slice(start, i);
        let key = rawKey;
        if (escaped) {
          try {
            key = JSON.parse(`"${rawKey}"`) as string;
          } catch {
            // A malformed escape: JSON.parse refuses the whole body next.
          }
        }
        if (top.has(key)) {
          throw bodyProblem(
            ["body", ...path.slice(0, stack.length - 1), key].join("."),
            "duplicate_field",
            "this field appears twice in one object",
          );
        }
        top.add(key);
        path[stack.length - 1] = key;
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) {
        throw bodyProblem("body", "max_depth", `the body nests deeper than ${maxDepth} levels`);
      }
      stack.push(c === 0x7b ? new Set() : null);
      path[stack.length - 1] = c === 0x7b ? "" : "0";
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      path.length = stack.length;
      expectKey = false;
    } else if (c === 0x2c /* , */ && stack.length > 0) {
      const depth = stack.length - 1;
      expectKey = stack[depth] !== null;
      if (!expectKey) path[depth] = String(Number(path[depth]) + 1);
    }
  }
}

/**
 * Installs the reader as the only body parser: a request whose body is anything but JSON is
 * refused with 415 by Fastify before any handler (and so any authentication) runs, and every
 * JSON body keeps its raw bytes on `req.rawBody`. Query strings and path parameters meet the
 * same text rule before validation.
 */
export function installBodyReader(app: FastifyInstance, options: { maxJsonDepth?: number } = {}): void {
  const maxDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    const charset = /;\s*charset=("?)([^";\s]+)\1/i.exec(String(req.headers["content-type"] ?? ""))?.[2];
    if (charset && charset.toLowerCase() !== "utf-8" && charset.toLowerCase() !== "utf8") {
      const error = Object.assign(new Error(`only UTF-8 JSON is taken, not charset=${charset}`), {
        statusCode: 415,
        code: "FST_ERR_CTP_INVALID_MEDIA_TYPE",
      });
      done(error, undefined);
      return;
    }
    // A signed route's body is not read before its caller is known (only the size limit applies).
    if (req.routeOptions.config.signedBody) {
      done(null, undefined);
      return;
    }
    try {
      done(null, readJsonBody(raw, maxDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addHook("preValidation", async (req) => {
    refuseUnstorableText(req.query, "query");
    // A wildcard route's `*` is the rest of the path, not a field the caller knows by that name:
    // a character there is named as the path's, as the router names a path that does not decode.
    const { "*": rest, ...named } = (req.params ?? {}) as Record<string, unknown>;
    refuseUnstorableText(named, "params");
    if (rest !== undefined) refuseUnstorableText(rest, "path");
  });
}
