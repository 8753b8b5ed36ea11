export * from "./assertion.ts";
export * from "./matrix.ts";
export * from "./permissions.ts";
export * from "./routes.ts";
export * from "./scope.ts";
