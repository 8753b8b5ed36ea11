// The dependency rule (docs/ARCHITECTURE.md, "The dependency rule"), checked by
// test/architecture/dependencies.unit.spec.ts in every `./piaoju test` and by
// `pnpm exec depcruise --config .dependency-cruiser.cjs packages services test deploy proto`.
//
// 1. A service never imports another service: services meet in packages/contracts and each
//    other's public APIs. The runner (the executable) composes services through their entry
//    (src/main.ts) only; test/ (end-to-end tests, their support, benches) may use any service.
// 2. domain/ is pure: no transport, no telemetry, no database, no bus, no file system or network,
//    directly or through what it imports.
// 3. No circles.

/** Imports that a service makes today but must not, each with the reason it is still here. */
// (None today: the signing gateway's embedded devices use packages/signing-core.)
/** @type {{ from: string, to: string }[]} */
const knownServiceImports = [];

/** What a domain file may not reach: transports, telemetry, databases, the bus, the OS's I/O. */
const io = [
  "node_modules/(fastify|@fastify|@opentelemetry|@grpc|@prisma|prisma|pg|pg-pool|@electric-sql|pglite-prisma-adapter|kafkajs|undici|nodemailer|pdfkit|pino)/",
  "^packages/(bus|persistence)/",
  "^packages/runtime/src/(?!errors\\.ts$)",
  "^services/[^/]+/src/generated/",
];
const ioCore = "^(fs|fs/promises|net|http|https|http2|dgram|dns|tls|child_process|worker_threads|cluster)$";

module.exports = {
  forbidden: [
    {
      name: "no-service-imports-another",
      comment:
        "A service imports no other service (packages/contracts, public APIs, or a package for shared code). " +
        "Known exceptions are listed in knownServiceImports with their reason.",
      severity: "error",
      from: {
        path: "^services/([^/]+)/",
        pathNot: ["^services/runner/", ...knownServiceImports.map((e) => e.from)],
      },
      to: { path: "^services/([^/]+)/", pathNot: "^services/$1/" },
    },
    ...knownServiceImports.map((e, i) => ({
      name: `known-exception-${i + 1}-stays-narrow`,
      comment: "A listed exception may import only what it is listed for.",
      severity: "error",
      from: { path: e.from },
      to: { path: "^services/([^/]+)/", pathNot: [e.to, "^services/signing-gateway/"] },
    })),
    {
      name: "runner-uses-service-entries-only",
      comment: "The runner composes services by their ServiceModule (src/main.ts), never by their insides.",
      severity: "error",
      from: { path: "^services/runner/" },
      to: { path: "^services/(?!runner/)[^/]+/", pathNot: "^services/[^/]+/src/main\\.ts$" },
    },
    {
      name: "no-package-imports-a-service",
      comment: "packages/ are shared by services; a package that needs a service is in the wrong place.",
      severity: "error",
      from: { path: "^(packages|proto)/" },
      to: { path: "^services/" },
    },
    {
      name: "domain-imports-no-io",
      comment:
        "domain/ holds pure decisions: no fastify, OpenTelemetry, gRPC, Prisma, the bus, persistence, files or sockets.",
      severity: "error",
      from: { path: "/src/domain/", pathNot: "\\.spec\\.ts$" },
      to: { path: io },
    },
    {
      name: "domain-imports-no-io-core",
      comment:
        "domain/ does no I/O: node:fs, net, http, child_process and the like belong in adapters and transports.",
      severity: "error",
      from: { path: "/src/domain/", pathNot: "\\.spec\\.ts$" },
      to: { dependencyTypes: ["core"], path: ioCore },
    },
    {
      name: "domain-reaches-no-io",
      comment: "Nor through what it imports: a domain file reaching I/O through a barrel is still impure.",
      severity: "error",
      from: { path: "/src/domain/", pathNot: "\\.spec\\.ts$" },
      to: { path: io, reachable: true },
    },
    {
      name: "no-circular",
      comment: "No circles: every dependency points one way.",
      severity: "error",
      from: {},
      to: { circular: true, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that resolves nowhere is a broken build waiting to happen.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: ["/src/generated/", "^deploy/kafka/(libs|run)/"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
    combinedDependencies: false,
  },
};
