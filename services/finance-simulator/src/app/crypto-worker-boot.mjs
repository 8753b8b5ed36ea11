// Worker threads do not inherit the TypeScript loader of their parent (tsx or vitest):
// register tsx's, then load the worker's TypeScript source.
import { register } from "tsx/esm/api";

register();
await import("./crypto-worker.ts");
