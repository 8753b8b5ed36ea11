import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { GrpcCode, grpcCodeName } from "./errors.ts";

describe("GrpcCode", () => {
  it("holds the same numbers as @grpc/grpc-js, so pure code can judge a status without gRPC", () => {
    const fromGrpc = Object.fromEntries(
      Object.entries(status).filter(([name, value]) => typeof value === "number" && !/^\d+$/.test(name)),
    );
    expect(GrpcCode).toEqual(fromGrpc);
  });

  it("names a code, and names nothing for a number that is no code", () => {
    expect(grpcCodeName(14)).toBe("UNAVAILABLE");
    expect(grpcCodeName(99)).toBeUndefined();
  });
});
