import type { TestPlatform } from "@piaoju/runtime/testing";

type Body = Record<string, unknown>;

/** Calls an internal route as the platform's caller; anything but success fails the setup loudly. */
export function succeeding(t: Pick<TestPlatform, "call">) {
  return async (method: string, path: string, body?: unknown): Promise<Body> => {
    const res = await t.call(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
}

export interface IssuingPointSetup {
  code: string;
  name?: string;
  /** 分发 rule for the point; a point without one gets no numbers. */
  rule?: { threshold: number; batchSize: number };
}

export interface AgencySetup {
  agency: string;
  bill: string;
  /** The segment taken into stock (入库), unless `applyToFinance` is set. */
  startNumber?: string;
  endNumber?: string;
  /** Apply to finance for this many numbers (申领, through finance-exchange) and take in what it issues. */
  applyToFinance?: number;
  points: readonly IssuingPointSetup[];
  /** The issuing points the business system may use. */
  appPoints: readonly string[];
}

/**
 * What an agency's ticket manager does before the first receipt, through the services' own
 * routes: a bill kind, a segment confirmed into stock, issuing points with distribution rules,
 * the income item 001 (护照工本费, 120 yuan a book) and a business system registered with the
 * gateway. Returns the business system's credentials once every point with a rule holds numbers.
 */
export async function prepareAgency(
  t: Pick<TestPlatform, "call">,
  setup: AgencySetup,
): Promise<{ appId: string; appSecret: string }> {
  const ok = succeeding(t);
  const { agency, bill } = setup;
  await ok("POST", "/v1/stock/bill-kinds", {
    agencyCode: agency,
    billCode: bill,
    name: "非税收入一般缴款书（电子）",
  });
  const segment = setup.applyToFinance
    ? await appliedSegment(t, agency, bill, setup.applyToFinance)
    : await ok("POST", "/v1/stock/segments", {
        agencyCode: agency,
        billCode: bill,
        startNumber: setup.startNumber,
        endNumber: setup.endNumber,
      });
  await ok("POST", `/v1/stock/segments/${String(segment.id)}/confirm`);
  for (const point of setup.points) {
    if (point.rule)
      await ok("PUT", `/v1/stock/distribution-rules/${agency}/${bill}/${point.code}`, point.rule);
    await ok("POST", "/v1/issuance/issuing-points", {
      agencyCode: agency,
      code: point.code,
      name: point.name ?? point.code,
    });
  }
  await ok("POST", "/v1/issuance/items", {
    agencyCode: agency,
    code: "001",
    name: "护照工本费",
    unit: "本",
    standardFen: 12000,
  });
  const app = (await ok("POST", "/v1/gateway/apps", {
    name: "出入境业务系统",
    agencyCode: agency,
    issuingPoints: [...setup.appPoints],
  })) as { appId: string; appSecret: string };
  // The runs stock distributed reach issuance over the bus.
  const supplied = setup.points.filter((p) => p.rule).length;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const runs = await t.call("GET", `/v1/issuance/number-runs?agencyCode=${agency}`);
    const points = new Set(
      (runs.body.items as Array<{ issuingPointCode: string }> | undefined)?.map((r) => r.issuingPointCode),
    );
    if (points.size >= supplied) break;
    if (Date.now() > deadline) throw new Error("the distributed runs never reached issuance");
    await new Promise((r) => setTimeout(r, 50));
  }
  return app;
}

/** 申领: applies to finance for numbers and waits for the segment finance issued to reach stock. */
async function appliedSegment(
  t: Pick<TestPlatform, "call">,
  agency: string,
  bill: string,
  quantity: number,
): Promise<Body> {
  await succeeding(t)("POST", "/v1/finance-exchange/stock-applications", {
    agencyCode: agency,
    billCode: bill,
    quantity,
  });
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const res = await t.call("GET", `/v1/stock/segments?agencyCode=${agency}&billCode=${bill}`);
    const received = (res.body.items as Body[] | undefined)?.find((s) => s.status === "RECEIVED");
    if (received) return received;
    if (Date.now() > deadline) throw new Error("finance's segment (申领) never reached stock");
  }
}
