import { describe, expect, it } from "vitest";
import type { DeadLetter } from "./bus.ts";
import { deliver, isTransientByDefault, isUnavailable, TransientError } from "./retry.ts";

const message = {
  topic: "piaoju.test.events",
  partition: 0,
  offset: "0",
  envelope: { id: "00000000-0000-4000-8000-000000000000", type: "test.Happened" },
} as unknown as Parameters<typeof deliver>[0];
const policy = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2, isTransient: isTransientByDefault };

/** What PostgreSQL, node-postgres and Prisma throw while the database crashes and restarts. */
const outage = [
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
  new Error("Connection terminated unexpectedly"),
  Object.assign(new Error("the database system is not yet accepting connections"), { code: "57P03" }),
  Object.assign(new Error("the database system is in recovery mode"), { code: "57P03" }),
  Object.assign(new Error("terminating connection due to crash of another server process"), {
    code: "57P02",
  }),
  Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), { code: "P1001" }),
  // Prisma over the pg adapter: the server's code only inside the message.
  Object.assign(
    new Error(
      "Database error. Code: `57P03`. Message: `the database system is not yet accepting connections`",
    ),
    { name: "PrismaClientKnownRequestError", code: "P2010" },
  ),
  new TransientError("wrapped", { cause: new Error("Connection terminated unexpectedly") }),
  // The pg adapter's own error, raw, when the connection dies under a transaction's commit: its
  // message is only the kind (a faults run dead-lettered one of these as "ConnectionClosed").
  Object.assign(new Error("ConnectionClosed"), {
    name: "DriverAdapterError",
    cause: { kind: "ConnectionClosed" },
  }),
  Object.assign(new Error("DatabaseNotReachable"), {
    name: "DriverAdapterError",
    cause: { kind: "DatabaseNotReachable", host: "127.0.0.1", port: 5432 },
  }),
  Object.assign(new Error("Server has closed the connection."), {
    name: "PrismaClientKnownRequestError",
    code: "P2010",
    meta: { driverAdapterError: { cause: { kind: "ConnectionClosed" } } },
  }),
];

describe("retry", () => {
  it("knows a database that cannot be reached, whatever layer says it", () => {
    for (const error of outage) expect(isUnavailable(error), error.message).toBe(true);
    expect(isUnavailable(Object.assign(new Error("deadlock detected"), { code: "40P01" }))).toBe(false);
    expect(isUnavailable(new Error("invalid input syntax"))).toBe(false);
    expect(
      isUnavailable(
        Object.assign(new Error("UniqueConstraintViolation"), {
          cause: { kind: "UniqueConstraintViolation" },
        }),
      ),
    ).toBe(false);
    expect(isTransientByDefault(Object.assign(new Error("deadlock"), { code: "40P01" }))).toBe(true);
  });

  it("retries through a database outage far past maxAttempts, and dead-letters nothing", async () => {
    const letters: DeadLetter[] = [];
    let calls = 0;
    const result = await deliver(
      message,
      "test.group",
      async () => {
        calls++;
        if (calls <= 20) throw outage[calls % outage.length];
      },
      policy,
      async (l) => {
        letters.push(l);
      },
    );
    expect({ result, calls, letters }).toEqual({ result: "processed", calls: 21, letters: [] });
  });

  it("still dead-letters a transient failure that is not an outage after maxAttempts", async () => {
    const letters: DeadLetter[] = [];
    let calls = 0;
    const result = await deliver(
      message,
      "test.group",
      async () => {
        calls++;
        throw Object.assign(new Error("could not serialize access"), { code: "40001" });
      },
      policy,
      async (l) => {
        letters.push(l);
      },
    );
    expect({ result, calls, attempts: letters.map((l) => l.attempts) }).toEqual({
      result: "dead-lettered",
      calls: 3,
      attempts: [3],
    });
  });
});
