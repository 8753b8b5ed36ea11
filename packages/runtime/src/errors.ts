import { fieldMessageZh, problemZh } from "@piaoju/locale/problems";
import type { z } from "zod";

/**
 * The one error taxonomy. Domain code throws AppError with a kind; the HTTP layer and
 * the gRPC layer each map kinds to their status codes in one place (here).
 */
export type ErrorKind =
  | "validation"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "unavailable";

/** Which field broke which rule: what a caller needs to fix bad input. */
export interface FieldIssue {
  field: string;
  rule: string;
  message: string;
  /** The same in Chinese (packages/locale); filled from the rule when the thrower gave none. */
  messageZh?: string;
}

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: { code?: string; issues?: readonly FieldIssue[]; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "AppError";
  }

  /** A dependency is down: worth retrying (the bus's retry policy reads this). */
  get transient(): boolean {
    return this.kind === "unavailable";
  }

  get code(): string {
    return this.details.code ?? this.kind.toUpperCase();
  }

  static validation(issues: readonly FieldIssue[], message?: string): AppError {
    return new AppError("validation", message ?? issues.map((i) => `${i.field}: ${i.message}`).join("; "), {
      code: "VALIDATION_FAILED",
      issues,
    });
  }
}

export function issuesFromZod(error: z.ZodError, prefix = ""): FieldIssue[] {
  const fieldOf = (path: readonly PropertyKey[]) =>
    [prefix, ...path.map(String)].filter(Boolean).join(".") || "(body)";
  return error.issues.flatMap((issue) => {
    // A field the schema does not know: each is named, so a caller sees what to take out.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => {
        const message = "this field is not part of the request (or is set by the platform)";
        return {
          field: fieldOf([...issue.path, key]),
          rule: "unknown_field",
          message,
          messageZh: fieldMessageZh({ rule: "unknown_field", message }),
        };
      });
    }
    const param = (issue as { params?: { rule?: unknown } }).params?.rule;
    const rule = typeof param === "string" ? param : issue.code;
    const facts = issue as unknown as Record<string, unknown>;
    return [
      {
        field: fieldOf(issue.path),
        rule,
        message: issue.message,
        messageZh: fieldMessageZh({
          rule,
          message: issue.message,
          code: issue.code,
          expected: facts.expected as string | undefined,
          input: facts.input,
          origin: facts.origin as string | undefined,
          maximum: facts.maximum as number | undefined,
          minimum: facts.minimum as number | undefined,
          inclusive: facts.inclusive as boolean | undefined,
          values: facts.values as unknown[] | undefined,
        }),
      },
    ];
  });
}

export const httpStatusOf: Record<ErrorKind, number> = {
  validation: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
};

/**
 * gRPC status codes by name, without importing gRPC: domain code judges a device's answer by its
 * code and stays pure. The same numbers as @grpc/grpc-js `status` (a unit test holds them equal).
 */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The name of a gRPC status code (`UNAVAILABLE`), or undefined for a number that is none. */
export function grpcCodeName(code: number): string | undefined {
  return Object.entries(GrpcCode).find(([, value]) => value === code)?.[0];
}

/** gRPC status codes (numeric, as @grpc/grpc-js `status`). */
export const grpcStatusOf: Record<ErrorKind, number> = {
  validation: GrpcCode.INVALID_ARGUMENT,
  unauthenticated: GrpcCode.UNAUTHENTICATED,
  forbidden: GrpcCode.PERMISSION_DENIED,
  not_found: GrpcCode.NOT_FOUND,
  conflict: GrpcCode.FAILED_PRECONDITION,
  unavailable: GrpcCode.UNAVAILABLE,
};

/** RFC 9457 problem details. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** What went wrong, in Chinese: the sentence for the code (packages/locale). */
  detailZh: string;
  code: string;
  issues?: readonly FieldIssue[];
  traceId?: string;
}

export function problemOf(error: AppError, traceId?: string): Problem {
  return {
    type: `https://piaoju.dev/problems/${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: error.kind.replace("_", " "),
    status: httpStatusOf[error.kind],
    detail: error.message,
    detailZh: problemZh(error.code, error.kind),
    code: error.code,
    ...(error.details.issues
      ? {
          issues: error.details.issues.map((i) =>
            i.messageZh ? i : { ...i, messageZh: fieldMessageZh({ rule: i.rule, message: i.message }) },
          ),
        }
      : {}),
    ...(traceId ? { traceId } : {}),
  };
}
