import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import dockerignoreModule from "@balena/dockerignore";
import { DockerfileParser, type Instruction } from "dockerfile-ast";

// The image without a container engine: the build context the Dockerfile's COPY takes, computed as
// Docker does (.dockerignore with Docker's own matching rules, @balena/dockerignore), and the
// Dockerfile's stages and instructions, parsed (dockerfile-ast).

export const dockerfilePath = "deploy/image/Dockerfile";

// The package is CommonJS (module.exports = the factory) while its types declare a default export.
const ignore = dockerignoreModule as unknown as typeof dockerignoreModule.default;

/** A filter with Docker's .dockerignore semantics (patterns, `**`, `!` exceptions, last match wins). */
export function dockerignore(root: string): (path: string) => boolean {
  const ig = ignore().add(readFileSync(join(root, ".dockerignore"), "utf8"));
  return (path: string) => ig.ignores(path);
}

/** Every file of the tree that `COPY . .` sends, as paths relative to the context root. */
export function buildContext(root: string): string[] {
  const ignored = dockerignore(root);
  const patterns = readFileSync(join(root, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("!"))
    .map((l) => l.slice(1));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // An ignored folder is skipped whole unless an exception reaches inside it.
        if (ignored(path) && !patterns.some((p) => p.startsWith(`${path}/`))) continue;
        walk(path);
      } else if (!ignored(path)) {
        files.push(path);
      }
    }
  };
  walk("");
  return files.sort();
}

export interface Stage {
  name: string | undefined;
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages, with ARG defaults substituted into FROM. */
export function stages(root: string): Stage[] {
  const text = readFileSync(join(root, dockerfilePath), "utf8");
  const dockerfile = DockerfileParser.parse(text);
  const args = new Map<string, string>();
  for (const arg of dockerfile.getInitialARGs()) {
    const [name, value] = (arg.getArgumentsContent() ?? "").split("=");
    if (name && value) args.set(name, value);
  }
  return dockerfile.getFROMs().map((from) => {
    const image = (from.getImageName() ?? "").replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? "");
    const tag = from.getImageTag();
    const start = from.getRange().start.line;
    const next = dockerfile.getFROMs().find((f) => f.getRange().start.line > start);
    return {
      name: from.getBuildStage() ?? undefined,
      from: tag ? `${image}:${tag}` : image,
      instructions: dockerfile
        .getInstructions()
        .filter(
          (i) =>
            i.getRange().start.line > start &&
            (!next || i.getRange().start.line < next.getRange().start.line),
        ),
    };
  });
}
