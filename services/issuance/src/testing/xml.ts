import { SaxesParser } from "saxes";

/**
 * Parses a document with a conforming XML 1.0 parser (saxes: it checks well-formedness and every
 * character against the Char production, which lenient DOM parsers do not) and returns the text
 * of each leaf element in document order, or the parser's first error.
 */
export function parseXml(document: Buffer | string): { error?: string; texts: [string, string][] } {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const texts: [string, string][] = [];
  const open: string[] = [];
  let current = "";
  let error: string | undefined;
  parser.on("error", (e) => {
    error ??= e.message;
  });
  parser.on("opentag", (tag) => {
    open.push(tag.name);
    current = "";
  });
  parser.on("text", (t) => {
    current += t;
  });
  parser.on("closetag", (tag) => {
    if (open[open.length - 1] === tag.name && current !== "") texts.push([tag.name, current]);
    open.pop();
    current = "";
  });
  parser.write(typeof document === "string" ? document : document.toString("utf8")).close();
  return error === undefined ? { texts } : { error, texts };
}
