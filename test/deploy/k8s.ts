import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

// Rendering and checking k8s/ offline: kustomize (kubectl's, v5) renders an overlay; every object
// is validated against the Kubernetes API's schema (kubernetes-models: types, required fields,
// enums) and, strictly, against its TypeScript type (an unknown or misspelt field is an error, as
// kubeconform -strict would say). Then the platform's own rules are checked on what rendered.

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked against their schema below
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  data?: any;
}

/** `kubectl kustomize <dir>`: the objects an overlay makes. */
export function render(dir: string): K8sObject[] {
  const run = spawnSync("kubectl", ["kustomize", join(repoRoot, dir)], { encoding: "utf8" });
  if (run.error) {
    throw new Error(
      "kubectl (1.27 or later, for kustomize v5) is needed to render k8s/: it comes with this machine's image",
    );
  }
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${run.stderr}`);
  return parseAllDocuments(run.stdout).map((d) => d.toJS() as K8sObject);
}

/** Where kubernetes-models keeps the model of an apiVersion/kind ("apps/v1" → apps/v1/Deployment). */
function modelPath(o: K8sObject): string {
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

const require = createRequire(import.meta.url);

/** Schema errors of each object, by `Kind/name` (empty when all are valid). */
export function schemaErrors(objects: K8sObject[]): string[] {
  const errors: string[] = [];
  for (const o of objects) {
    let Model: new (data: unknown) => { validate(): void };
    try {
      Model = (require(modelPath(o)) as Record<string, typeof Model>)[o.kind] as typeof Model;
    } catch {
      errors.push(`${o.kind}/${o.metadata.name}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (error) {
      errors.push(`${o.kind}/${o.metadata.name}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/**
 * Strict check: each object as a literal of its API type, type-checked. TypeScript's excess
 * property check refuses a field the type does not have, at any depth.
 */
export function strictErrors(objects: K8sObject[], label: string): string[] {
  const dir = join(repoRoot, "test", "node_modules", ".cache", "piaoju-k8s");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${label}.ts`);
  const lines: string[] = [];
  objects.forEach((o, i) => {
    lines.push(`import type { I${o.kind} as T${i} } from "${modelPath(o)}";`);
  });
  objects.forEach((o, i) => {
    lines.push(`// ${o.kind}/${o.metadata.name}`);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(o)};`);
  });
  writeFileSync(file, `${lines.join("\n")}\n`);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const source = d.file.text.split("\n")[line - 1] ?? "";
    return `${source.replace(/^\/\/ /, "")}: ${text.split("\n").slice(-1)[0]}`;
  });
}

/** A pod as NetworkPolicies see it: its labels, namespace and named ports. */
export interface Peer {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ports: Record<string, number>;
  /** Outside the cluster (mail, finance): reached by rules without `to`. */
  external?: boolean;
}

/** Every workload's pod template as a peer. */
export function podsOf(objects: K8sObject[]): Peer[] {
  return objects
    .filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind))
    .map((o) => ({
      name: o.metadata.name,
      namespace: o.metadata.namespace ?? "piaoju",
      labels: o.spec.template.metadata.labels as Record<string, string>,
      ports: Object.fromEntries(
        (o.spec.template.spec.containers as Array<{ ports?: Array<{ name: string; containerPort: number }> }>)
          .flatMap((c) => c.ports ?? [])
          .map((p) => [p.name, p.containerPort]),
      ),
    }));
}

interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: unknown;
}
interface PolicyRule {
  to?: PolicyPeer[];
  from?: PolicyPeer[];
  ports?: Array<{ port?: number | string; protocol?: string }>;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

function peerMatches(rulePeers: PolicyPeer[] | undefined, policyNs: string, peer: Peer): boolean {
  if (rulePeers === undefined || rulePeers.length === 0) return true;
  return rulePeers.some((p) => {
    if (p.ipBlock) return peer.external === true;
    if (peer.external) return false;
    const nsLabels = { "kubernetes.io/metadata.name": peer.namespace };
    const nsOk = p.namespaceSelector
      ? matches(p.namespaceSelector.matchLabels, nsLabels)
      : peer.namespace === policyNs;
    const podOk = p.podSelector ? matches(p.podSelector.matchLabels, peer.labels) : true;
    return nsOk && podOk;
  });
}

function portMatches(rule: PolicyRule, port: number, target: Peer): boolean {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((p) =>
    p.port === undefined
      ? true
      : typeof p.port === "number"
        ? p.port === port
        : target.ports[p.port] === port,
  );
}

/** Whether NetworkPolicies let `from` open a TCP connection to `to` on `port`. */
export function allowed(policies: K8sObject[], from: Peer, to: Peer, port: number): boolean {
  const selecting = (peer: Peer, type: "Ingress" | "Egress") =>
    peer.external
      ? []
      : policies.filter(
          (p) =>
            (p.metadata.namespace ?? "piaoju") === peer.namespace &&
            (p.spec.policyTypes as string[]).includes(type) &&
            matches(p.spec.podSelector.matchLabels, peer.labels),
        );
  const egress = selecting(from, "Egress");
  const egressOk =
    egress.length === 0 ||
    egress.some((p) =>
      ((p.spec.egress ?? []) as PolicyRule[]).some(
        (r) => peerMatches(r.to, p.metadata.namespace ?? "piaoju", to) && portMatches(r, port, to),
      ),
    );
  const ingress = selecting(to, "Ingress");
  const ingressOk =
    ingress.length === 0 ||
    ingress.some((p) =>
      ((p.spec.ingress ?? []) as PolicyRule[]).some(
        (r) => peerMatches(r.from, p.metadata.namespace ?? "piaoju", from) && portMatches(r, port, to),
      ),
    );
  return egressOk && ingressOk;
}
