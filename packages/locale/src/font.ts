import { existsSync, readFileSync } from "node:fs";

/**
 * A CJK font to embed: the receipt is Chinese, and PDF's standard fonts have no Chinese
 * glyphs. The platform's install step brings Debian's fonts-wqy-microhei (TrueType outlines,
 * which pdfkit subsets to the glyphs used: a receipt PDF stays small); Noto CJK works too.
 * PIAOJU_CJK_FONT (a .ttf/.otf/.ttc file, with "#PostScriptName" for a collection) overrides.
 */
export interface FontChoice {
  path: string;
  /** The file's bytes, read once: parsing starts from memory on every render. */
  data?: Buffer;
  /** The face inside a TrueType collection (.ttc). */
  postscriptName?: string;
}

const CANDIDATES: readonly FontChoice[] = [
  { path: "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", postscriptName: "WenQuanYiMicroHei" },
  { path: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", postscriptName: "NotoSansCJKsc-Regular" },
  { path: "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", postscriptName: "WenQuanYiZenHei" },
];

export function findCjkFont(override?: string): FontChoice {
  if (override) {
    const [path, postscriptName] = override.split("#") as [string, string | undefined];
    if (!existsSync(path)) throw new Error(`PIAOJU_CJK_FONT names ${path}, which does not exist`);
    return postscriptName ? { path, postscriptName } : { path };
  }
  const found = CANDIDATES.find((c) => existsSync(c.path));
  if (!found) {
    throw new Error(
      "no CJK font found: install Debian's fonts-wqy-microhei (./piaoju does) or set PIAOJU_CJK_FONT",
    );
  }
  return found;
}

/** The font with its bytes loaded, for a long-running service. */
export function loadCjkFont(override?: string): FontChoice {
  const font = findCjkFont(override);
  return { ...font, data: readFileSync(font.path) };
}
