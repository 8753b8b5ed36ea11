import { randomBytes, randomUUID } from "node:crypto";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { type Envelope, topics } from "@piaoju/contracts";
import type { Platform } from "@piaoju/runtime";
import { callerHeaders, startTestPlatform, TEST_TOKEN, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stockService } from "./main.ts";

/** One trace from the caller's HTTP request, through the outbox and Kafka, to a consumer. */
describe("traces cross HTTP, the outbox and Kafka", () => {
  const spans = new InMemorySpanExporter();
  let test: TestPlatform;
  let platform: Platform;

  beforeAll(async () => {
    test = await startTestPlatform({
      mode: "cluster",
      services: [stockService],
      kafkaBrokers: inject("kafkaBrokers"),
      spanExporter: spans,
    });
    platform = test.platform;
  });
  afterAll(async () => {
    await test?.stop();
  });

  it("continues the caller's trace in the server span, the event and the consumer's span", async () => {
    const traceId = randomBytes(16).toString("hex");
    // Other test files share the broker's topics: this test's events are told apart by agency.
    const agency = `T${randomBytes(4).toString("hex")}`;
    const parentSpan = randomBytes(8).toString("hex");
    const seen: Envelope[] = [];
    const sub = await platform.bus.subscribe({
      group: `trace-${randomUUID().slice(0, 8)}`,
      topics: [topics.stock],
      handler: async (m) => {
        seen.push(m.envelope);
      },
    });

    const res = await fetch(`${platform.url}/v1/stock/bill-kinds`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TOKEN}`,
        ...callerHeaders(
          { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": agency },
          "POST",
          `${platform.url}/v1/stock/bill-kinds`,
        ),
        "content-type": "application/json",
        traceparent: `00-${traceId}-${parentSpan}-01`,
      },
      body: JSON.stringify({ agencyCode: agency, billCode: "11010126", name: "一般缴款书" }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-trace-id")).toBe(traceId);

    const deadline = Date.now() + 30_000;
    const ours = (e: Envelope) =>
      e.type === "stock.BillKindRegistered" && (e.data as { agencyCode: string }).agencyCode === agency;
    while (!seen.some(ours) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const event = seen.find(ours)!;
    expect(event.trace?.traceparent).toContain(traceId);
    await sub.stop();

    const finished = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const server = finished.find((s) => s.name === "POST /v1/stock/bill-kinds");
    const consumer = finished.find((s) => s.name === `${topics.stock} process`);
    expect(server?.parentSpanContext?.spanId).toBe(parentSpan);
    expect(consumer?.attributes["messaging.message.id"]).toBe(event.id);
    expect(consumer?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
  });
});
