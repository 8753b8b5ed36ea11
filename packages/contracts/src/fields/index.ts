export * from "./rules.ts";
export * from "./text.ts";
