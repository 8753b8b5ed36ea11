import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  allowed,
  type K8sObject,
  type Peer,
  podsOf,
  render,
  repoRoot,
  schemaErrors,
  strictErrors,
} from "./k8s.ts";

// k8s/ rendered as an operator would apply it (both overlays), validated against the Kubernetes API's
// schema, strictly, and held to the platform's rules: every service deployed, each reaching only what
// it uses, the same hardening everywhere, no service able to CREATE DATABASE.

/** Services deployed by the runner: every folder of services/ but the runner, the peer and the device. */
const services = readdirSync(join(repoRoot, "services")).filter(
  (s) => !["runner", "finance-simulator", "channel-simulator", "signing-device"].includes(s),
);
const overlays = ["dev", "production"] as const;
const rendered = Object.fromEntries(overlays.map((o) => [o, render(`k8s/overlays/${o}`)])) as Record<
  (typeof overlays)[number],
  K8sObject[]
>;
const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = (objects: K8sObject[]) =>
  objects.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind));
const envOf = (o: K8sObject, container = 0) =>
  Object.fromEntries(
    (
      o.spec.template.spec.containers[container].env as Array<{
        name: string;
        value?: string;
        valueFrom?: unknown;
      }>
    ).map((e) => [e.name, e.value ?? e.valueFrom]),
  );

describe.each(overlays)("k8s/overlays/%s", (overlay) => {
  const objects = rendered[overlay];

  it("renders objects that the Kubernetes API's schema accepts, strictly (no unknown field)", () => {
    expect(objects.length).toBeGreaterThan(40);
    expect(schemaErrors(objects)).toEqual([]);
    expect(strictErrors(objects, overlay)).toEqual([]);
  }, 180_000);

  it("deploys every service, the two signing devices with keystores and secrets, Kafka and PostgreSQL", () => {
    for (const name of services) {
      const d = find(objects, "Deployment", name);
      expect(d, `a Deployment for services/${name}`).toBeDefined();
      expect(d?.spec.template.spec.containers[0].args).toEqual(["service", name]);
      expect(find(objects, "Service", name), `a Service for ${name}`).toBeDefined();
      expect(envOf(d as K8sObject).PIAOJU_DATABASE_URL).toEqual({
        secretKeyRef: { name: `piaoju-db-${name}`, key: "url" },
      });
    }
    for (const device of ["signing-device-a", "signing-device-b"]) {
      const d = find(objects, "Deployment", device) as K8sObject;
      const volumes = d.spec.template.spec.volumes as Array<{
        name: string;
        persistentVolumeClaim?: { claimName: string };
      }>;
      expect(volumes.find((v) => v.name === "keystore")?.persistentVolumeClaim?.claimName).toBe(
        `${device}-keystore`,
      );
      expect(find(objects, "PersistentVolumeClaim", `${device}-keystore`)).toBeDefined();
      expect(envOf(d).PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY).toEqual({
        secretKeyRef: { name: `piaoju-${device}`, key: "keystore-key" },
      });
    }
    expect(envOf(find(objects, "Deployment", "signing-gateway") as K8sObject).PIAOJU_SIGNING_DEVICES).toBe(
      "signing-device-a.piaoju.svc:50051,signing-device-b.piaoju.svc:50051",
    );
    expect(find(objects, "StatefulSet", "kafka")?.spec.template.spec.containers[0].image).toMatch(
      /^apache\/kafka:3\.9\./,
    );
    expect(find(objects, "StatefulSet", "postgres")?.spec.template.spec.containers[0].image).toMatch(
      /^postgres:17/,
    );
  });

  it("routes /api and /admin to the gateway, /h5 to delivery, the cashier and channels' notifies to payment, and nothing else from outside", () => {
    const ingress = find(objects, "Ingress", "piaoju") as K8sObject;
    const paths = (
      ingress.spec.rules[0].http.paths as Array<{ path: string; backend: { service: { name: string } } }>
    ).map((p) => `${p.path} → ${p.backend.service.name}`);
    expect(paths).toEqual([
      "/api → gateway",
      "/admin → gateway",
      "/h5/pay → payment",
      "/h5 → delivery",
      "/v1/payment/notify → payment",
      "/v1/payment/bank → payment",
    ]);
    if (overlay === "production")
      expect(ingress.spec.tls).toEqual([{ hosts: ["piaoju.example.invalid"], secretName: "piaoju-tls" }]);
  });

  it("hardens every pod the same way: non-root, read-only root, no privilege escalation, no capabilities, seccomp", () => {
    for (const w of workloads(objects)) {
      const pod = w.spec.template.spec;
      const where = `${w.kind}/${w.metadata.name}`;
      expect(pod.securityContext, where).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.automountServiceAccountToken, where).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext, `${where} ${c.name}`).toEqual({
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
        });
        expect(c.resources?.limits?.memory, `${where}: a memory limit`).toBeDefined();
        if (w.kind !== "Job") {
          expect(c.startupProbe, `${where}: a startupProbe`).toBeDefined();
          expect(c.readinessProbe, `${where}: a readinessProbe`).toBeDefined();
          expect(c.livenessProbe, `${where}: a livenessProbe`).toBeDefined();
        }
      }
    }
    const ns = find(objects, "Namespace", "piaoju") as K8sObject;
    expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("probes the services' /healthz and /readyz, with the startupProbe covering migrations", () => {
    for (const name of services) {
      const c = (find(objects, "Deployment", name) as K8sObject).spec.template.spec.containers[0];
      expect(c.startupProbe.httpGet.path).toBe("/healthz");
      expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(300);
      expect(c.readinessProbe.httpGet.path).toBe("/readyz");
      expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    }
  });

  it("has a PodDisruptionBudget over every Deployment and StatefulSet but the single PostgreSQL", () => {
    const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget");
    for (const w of objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) {
      if (w.metadata.name === "postgres") continue;
      const labels = w.spec.template.metadata.labels as Record<string, string>;
      const covering = pdbs.filter((p) =>
        Object.entries(p.spec.selector.matchLabels as Record<string, string>).every(
          ([k, v]) => labels[k] === v,
        ),
      );
      expect(covering.length, `${w.kind}/${w.metadata.name}`).toBe(1);
    }
  });

  it("gives each service its own database role, without CREATE DATABASE", () => {
    const platform = find(objects, "ConfigMap", "piaoju-platform") as K8sObject;
    expect(platform.data.PIAOJU_DATABASE_CREATE).toBe("false");
    const job = find(objects, "Job", "database-roles") as K8sObject;
    expect((envOf(job).SERVICES as string).split(" ").sort()).toEqual([...services].sort());
    const sources = job.spec.template.spec.volumes.find((v: { name: string }) => v.name === "passwords")
      .projected.sources as Array<{ secret: { name: string } }>;
    expect(sources.map((s) => s.secret.name).sort()).toEqual(services.map((s) => `piaoju-db-${s}`).sort());
    const script = Object.values(
      (
        objects.find(
          (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("database-roles"),
        ) as K8sObject
      ).data,
    )[0] as string;
    expect(script).toContain("NOSUPERUSER NOCREATEDB NOCREATEROLE");
  });

  it("lets each workload reach only what it uses (NetworkPolicies, evaluated)", () => {
    const policies = objects.filter((o) => o.kind === "NetworkPolicy");
    const pods = podsOf(objects);
    const outside: Peer[] = [
      { name: "ingress-controller", namespace: "ingress-nginx", labels: {}, ports: {} },
      { name: "prometheus", namespace: "monitoring", labels: {}, ports: {} },
      { name: "internet", namespace: "", labels: {}, ports: {}, external: true },
      { name: "other-namespace", namespace: "default", labels: {}, ports: {} },
    ];
    const ports = [25, 443, 465, 587, 5432, 8080, 9092, 9093, 50051, 50061];
    const reachable: string[] = [];
    for (const from of [...pods, ...outside]) {
      for (const to of [...pods, ...outside]) {
        if (from === to && !from.name.startsWith("kafka")) continue;
        if (!pods.includes(from) && !pods.includes(to)) continue;
        for (const port of ports) {
          const listens = to.external || Object.values(to.ports).includes(port);
          if (listens && allowed(policies, from, to, port))
            reachable.push(`${from.name} → ${to.name}:${port}`);
        }
      }
    }
    const expected = [
      ...services.flatMap((s) => [`${s} → postgres:5432`, `${s} → kafka:9092`, `prometheus → ${s}:8080`]),
      ...services.filter((s) => s !== "signing-gateway" && s !== "gateway").map((s) => `gateway → ${s}:8080`),
      "ingress-controller → gateway:8080",
      "ingress-controller → delivery:8080",
      "ingress-controller → payment:8080",
      "signing-gateway → signing-device-a:50051",
      "signing-gateway → signing-device-b:50051",
      // The receipt PDF's signature (ADR 0024): delivery asks the signing gateway, never a device.
      "delivery → signing-gateway:50061",
      "kafka → kafka:9092",
      "kafka → kafka:9093",
      "database-roles → postgres:5432",
      "finance-exchange → internet:443",
      "payment → internet:443",
      ...[25, 443, 465, 587].map((p) => `delivery → internet:${p}`),
    ];
    expect(reachable.sort()).toEqual([...new Set(expected)].sort());
  });
});

describe("the schema check", () => {
  it("refuses a misspelt field, a wrong type and an unknown kind (so a green check means something)", () => {
    const stock = structuredClone(find(rendered.dev, "Deployment", "stock") as K8sObject);
    stock.spec.template.spec.containers[0].startupProb = stock.spec.template.spec.containers[0].startupProbe;
    const pdb = structuredClone(find(rendered.dev, "PodDisruptionBudget", "stock") as K8sObject);
    pdb.spec.maxUnavailable = { one: 1 };
    const strict = strictErrors([stock], "negative");
    expect(strict.join("\n")).toMatch(
      /Deployment\/stock: .*startupProb.* does not exist in type 'IContainer'/,
    );
    expect(schemaErrors([pdb]).join("\n")).toMatch(/PodDisruptionBudget\/stock: .*maxUnavailable/);
    expect(
      schemaErrors([{ apiVersion: "example.invalid/v1", kind: "Widget", metadata: { name: "w" } }]),
    ).toEqual(["Widget/w: no schema for example.invalid/v1 Widget"]);
  }, 180_000);
});

describe("the overlays differ where they should", () => {
  const kafka = (o: (typeof overlays)[number]) => find(rendered[o], "StatefulSet", "kafka") as K8sObject;
  it("runs one Kafka node in dev and a quorum of three with replication 3 and min ISR 2 in production", () => {
    expect(kafka("dev").spec.replicas).toBe(1);
    expect(envOf(kafka("dev"))).toMatchObject({
      KAFKA_REPLICATION_FACTOR: "1",
      KAFKA_MIN_INSYNC_REPLICAS: "1",
    });
    expect(kafka("production").spec.replicas).toBe(3);
    expect(envOf(kafka("production"))).toMatchObject({
      KAFKA_CONTROLLER_QUORUM_VOTERS: "0@kafka-0.kafka:9093,1@kafka-1.kafka:9093,2@kafka-2.kafka:9093",
      KAFKA_REPLICATION_FACTOR: "3",
      KAFKA_MIN_INSYNC_REPLICAS: "2",
    });
    expect((find(rendered.production, "ConfigMap", "piaoju-platform") as K8sObject).data.KAFKA_BROKERS).toBe(
      "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092",
    );
  });
});
