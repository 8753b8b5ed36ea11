import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";

/**
 * The traffic police business system (交警业务系统) as a peer, for the bank counter's query by
 * decision number: it knows decisions (number, serial, payer, fine, deadline), and answers
 * Piaoju's signed `POST /decisions/query` `{"agencyCode","decisionNo"}` with the payment request
 * for it (as the business API's create-payment body), or 404. Requests are checked and answers
 * signed as Piaoju's result callbacks are: HMAC-SM3 with the app's secret over
 * `POST\nTIMESTAMP\nDELIVERY\nhex(SM3(body))` (the answer under the request's delivery id).
 * Its own code (node:crypto), not Piaoju's, so a mistake on either side shows.
 */
export interface Decision {
  agencyCode: string;
  decisionNo: string;
  bizSerialNo: string;
  payer: { type: 1 | 2; code: string; name: string; phone?: string };
  fineFen: number;
  /** The payment deadline (YYYY-MM-DD, Shanghai): 加处罚款 runs from the day after. */
  deadline: string;
  issuingPointCode: string;
  billCode: string;
}

export interface PoliceSimulator {
  /** Where Piaoju asks (PUT /v1/payment/decision-sources/:appId takes it). */
  url: string;
  addDecision(d: Decision): void;
  readonly queries: number;
  readonly badSignatures: number;
  close(): Promise<void>;
}

const sm3hex = (b: Buffer) => createHash("sm3").update(b).digest("hex");
const mac = (secret: string, ts: string, delivery: string, body: Buffer) =>
  createHmac("sm3", Buffer.from(secret, "utf8"))
    .update(["POST", ts, delivery, sm3hex(body)].join("\n"))
    .digest("hex");

export async function startPoliceSimulator(options: {
  secret: string;
  /** The income items the decision's fine and surcharge are booked under. */
  fineItemCode?: string;
  surchargeItemCode?: string;
}): Promise<PoliceSimulator> {
  const decisions = new Map<string, Decision>();
  let queries = 0;
  let badSignatures = 0;
  const app: FastifyInstance = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.post("/decisions/query", async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const ts = String(req.headers["x-piaoju-timestamp"] ?? "");
    const delivery = String(req.headers["x-piaoju-delivery"] ?? "");
    const given = Buffer.from(String(req.headers["x-piaoju-signature"] ?? ""), "hex");
    const want = Buffer.from(mac(options.secret, ts, delivery, body), "hex");
    if (
      given.length !== want.length ||
      !timingSafeEqual(given, want) ||
      Math.abs(Date.now() - Number(ts)) > 300_000
    ) {
      badSignatures++;
      return reply.status(401).send({ code: "SIGNATURE_INVALID" });
    }
    queries++;
    const q = JSON.parse(body.toString("utf8")) as { agencyCode: string; decisionNo: string };
    const d = decisions.get(`${q.agencyCode}:${q.decisionNo}`);
    const answer = d
      ? {
          bizSerialNo: d.bizSerialNo,
          decisionNo: d.decisionNo,
          payer: d.payer,
          items: [{ itemCode: options.fineItemCode ?? "FK01", quantity: "1", amountFen: d.fineFen }],
          surcharge: {
            fineItemCode: options.fineItemCode ?? "FK01",
            deadline: d.deadline,
            itemCode: options.surchargeItemCode ?? "FK02",
          },
          issuingPointCode: d.issuingPointCode,
          billCode: d.billCode,
        }
      : { code: "DECISION_NOT_FOUND", message: `no decision ${q.decisionNo}` };
    const out = Buffer.from(JSON.stringify(answer));
    const ats = String(Date.now());
    return reply
      .status(d ? 200 : 404)
      .header("content-type", "application/json")
      .header("x-piaoju-timestamp", ats)
      .header("x-piaoju-signature", mac(options.secret, ats, delivery, out))
      .send(out);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/decisions/query`,
    addDecision: (d) => decisions.set(`${d.agencyCode}:${d.decisionNo}`, d),
    get queries() {
      return queries;
    },
    get badSignatures() {
      return badSignatures;
    },
    close: () => app.close(),
  };
}
