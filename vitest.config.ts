import { defineConfig } from "vitest/config";

// One runner for the whole workspace. The file name says the level of a test:
//   *.unit.spec.ts  pure code, no I/O beyond the file system
//   *.int.spec.ts   real PostgreSQL, real Kafka, real gRPC, real processes
//   *.e2e.spec.ts   the platform as a whole
const exclude = ["**/node_modules/**", "**/dist/**", "deploy/kafka/libs/**"];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{packages,services,test}/**/*.unit.spec.ts"],
          exclude,
          // Unit tests first: they fail fast and need no broker.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["{packages,services,test,deploy}/**/*.{int,e2e}.spec.ts"],
          exclude,
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // The machine has two cores and one Kafka broker; files run two at a time.
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
