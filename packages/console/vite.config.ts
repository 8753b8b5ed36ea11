import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the gateway under /admin (services/gateway/src/http/admin-console.ts); `pnpm dev`
// is not offered: the console talks to a running platform's /api on the same origin.
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 4000, reportCompressedSize: false },
});
