import { defineConfig } from "prisma/config";

// Used by `prisma generate` only; the platform applies migrations itself at start-up.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: "postgresql://unused@127.0.0.1:5432/unused" },
});
