export * from "./personal.ts";
export * from "./rules.ts";
export * from "./text.ts";
