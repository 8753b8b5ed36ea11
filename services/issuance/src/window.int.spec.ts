import { testIdentity } from "@piaoju/access/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AGENCY, type Harness, seedReferenceData, startIssuance } from "./testing/harness.ts";

/** Another agency, with reference data of its own. */
const OTHER = `O${AGENCY.slice(1)}`;
const PAYER = {
  type: 1,
  code: "11010519491231002X",
  name: "常用交款人甲",
  phone: "13912345678",
  email: "frequent.payer@example.cn",
};

/**
 * 项目分组 and 常用交款人 through issuance's internal API, as the gateway's people call it: each
 * role's permission, the agency (and, for a clerk bound to points, the issuing point) as the
 * data scope, another agency's group or payer invisible and unchangeable, bad input a 400
 * naming the field, the payer sealed at rest and found by keyed hash, every change audited.
 */
describe("item groups and frequent payers (embedded)", () => {
  let h: Harness;
  const manager = testIdentity({ actor: "li.manager", agency: AGENCY, roles: ["ticket-manager"] });
  const otherManager = testIdentity({ actor: "wang.manager", agency: OTHER, roles: ["ticket-manager"] });
  const clerk1 = testIdentity({
    actor: "zhang.win1",
    agency: AGENCY,
    roles: ["clerk"],
    issuingPoints: ["WIN-01"],
  });
  const clerk2 = testIdentity({
    actor: "zhao.win2",
    agency: AGENCY,
    roles: ["clerk"],
    issuingPoints: ["WIN-02"],
  });
  const otherClerk = testIdentity({
    actor: "qian.other",
    agency: OTHER,
    roles: ["clerk"],
    issuingPoints: ["WIN-01"],
  });
  const as = (who: object) => who as Record<string, string>;

  beforeAll(async () => {
    h = await startIssuance("embedded", inject("kafkaBrokers"));
    await seedReferenceData((m, p, b) => h.call(m, p, b));
    // The other agency: one point and one item of its own.
    const other = { "x-piaoju-actor": "setup", "x-piaoju-agencies": OTHER };
    expect(
      (
        await h.call(
          "POST",
          "/v1/issuance/issuing-points",
          { agencyCode: OTHER, code: "WIN-01", name: "窗口" },
          other,
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await h.call(
          "POST",
          "/v1/issuance/items",
          { agencyCode: OTHER, code: "009", name: "其他", unit: "件", standardFen: 100 },
          other,
        )
      ).status,
    ).toBe(201);
    await h.call("POST", "/v1/issuance/items", {
      agencyCode: AGENCY,
      code: "004",
      name: "港澳通行证工本费",
      unit: "本",
      standardFen: 8000,
    });
  }, 120_000);
  afterAll(() => h?.stop());

  describe("项目分组", () => {
    let groupId: string;

    it("a ticket manager groups items; the clerk reads the group with its items", async () => {
      const made = await h.call(
        "POST",
        "/v1/issuance/item-groups",
        { agencyCode: AGENCY, name: "出入境证件", itemCodes: ["001", "004"], remark: "护照 + 港澳" },
        as(manager),
      );
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      groupId = made.body.id as string;
      const listed = await h.call(
        "GET",
        `/v1/issuance/item-groups?agencyCode=${AGENCY}`,
        undefined,
        as(clerk1),
      );
      expect(listed.status).toBe(200);
      const [group] = listed.body.items as Array<{
        id: string;
        items: Array<{ code: string; standardFen: number }>;
      }>;
      expect(group?.id).toBe(groupId);
      expect(group?.items.map((i) => [i.code, i.standardFen])).toEqual([
        ["001", 12000],
        ["004", 8000],
      ]);
      // The same name twice in an agency is refused.
      const again = await h.call(
        "POST",
        "/v1/issuance/item-groups",
        { agencyCode: AGENCY, name: "出入境证件", itemCodes: ["001"] },
        as(manager),
      );
      expect([again.status, again.body.code]).toEqual([409, "ITEM_GROUP_EXISTS"]);
    });

    it("bad input is a 400 naming the field", async () => {
      const cases: Array<[unknown, string]> = [
        [{ agencyCode: AGENCY, name: "", itemCodes: ["001"] }, "body.name"],
        [{ agencyCode: AGENCY, name: "空", itemCodes: [] }, "body.itemCodes"],
        [{ agencyCode: AGENCY, name: "未知", itemCodes: ["001", "999"] }, "body.itemCodes.1"],
        [{ agencyCode: AGENCY, name: "重复", itemCodes: ["001", "001"] }, "body.itemCodes.1"],
        // An item of another agency is not an item of this one.
        [{ agencyCode: AGENCY, name: "他单位", itemCodes: ["009"] }, "body.itemCodes.0"],
        [{ agencyCode: AGENCY, name: "多余", itemCodes: ["001"], source: "x" }, "body.source"],
        [{ agencyCode: AGENCY, name: "a\u0000b", itemCodes: ["001"] }, "body.name"],
      ];
      for (const [body, field] of cases) {
        const res = await h.call("POST", "/v1/issuance/item-groups", body, as(manager));
        expect([res.status, res.body.issues?.map((i) => i.field)], JSON.stringify(body)).toEqual([
          400,
          expect.arrayContaining([field]),
        ]);
      }
      const put = await h.call(
        "PUT",
        `/v1/issuance/item-groups/${groupId}`,
        { name: "x", itemCodes: "001" },
        as(manager),
      );
      expect([put.status, put.body.issues?.[0]?.field]).toEqual([400, "body.itemCodes"]);
      const badId = await h.call("DELETE", "/v1/issuance/item-groups/not-a-uuid", undefined, as(manager));
      expect([badId.status, badId.body.issues?.[0]?.field]).toEqual([400, "params.id"]);
    });

    it("another agency's manager neither sees nor changes the group", async () => {
      const seen = await h.call(
        "GET",
        `/v1/issuance/item-groups?agencyCode=${AGENCY}`,
        undefined,
        as(otherManager),
      );
      expect(seen.status).toBe(403);
      const own = await h.call(
        "GET",
        `/v1/issuance/item-groups?agencyCode=${OTHER}`,
        undefined,
        as(otherManager),
      );
      expect(own.body.items).toEqual([]);
      const put = await h.call(
        "PUT",
        `/v1/issuance/item-groups/${groupId}`,
        { name: "改名", itemCodes: ["001"] },
        as(otherManager),
      );
      expect([put.status, put.body.code]).toEqual([404, "ITEM_GROUP_UNKNOWN"]);
      const del = await h.call("DELETE", `/v1/issuance/item-groups/${groupId}`, undefined, as(otherManager));
      expect([del.status, del.body.code]).toEqual([404, "ITEM_GROUP_UNKNOWN"]);
      // A clerk reads groups but does not keep them.
      const byClerk = await h.call("DELETE", `/v1/issuance/item-groups/${groupId}`, undefined, as(clerk1));
      expect([byClerk.status, byClerk.body.code]).toEqual([403, "PERMISSION_DENIED"]);
      const still = await h.call(
        "GET",
        `/v1/issuance/item-groups?agencyCode=${AGENCY}`,
        undefined,
        as(manager),
      );
      expect((still.body.items as Array<{ name: string }>).map((g) => g.name)).toEqual(["出入境证件"]);
    });

    it("the manager changes and deletes it; each change is audited with before and after", async () => {
      const put = await h.call(
        "PUT",
        `/v1/issuance/item-groups/${groupId}`,
        { name: "出入境证件（护照）", itemCodes: ["001"], enabled: false },
        as(manager),
      );
      expect([put.status, put.body.name, put.body.enabled]).toEqual([200, "出入境证件（护照）", false]);
      const del = await h.call("DELETE", `/v1/issuance/item-groups/${groupId}`, undefined, as(manager));
      expect([del.status, del.body.deleted]).toEqual([200, true]);
      const gone = await h.call("DELETE", `/v1/issuance/item-groups/${groupId}`, undefined, as(manager));
      expect(gone.status).toBe(404);
      const audit = (await h.db.query(
        "SELECT actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id",
        [`item-group:${AGENCY}:${groupId}`],
      )) as Array<{ actor: string; action: string; detail: { before: unknown; after: unknown } }>;
      expect(audit.map((a) => [a.actor, a.action])).toEqual([
        ["li.manager", "item-group.create"],
        ["li.manager", "item-group.update"],
        ["li.manager", "item-group.delete"],
      ]);
      expect(audit[1]?.detail.before).toMatchObject({ name: "出入境证件", itemCodes: ["001", "004"] });
      expect(audit[1]?.detail.after).toMatchObject({ name: "出入境证件（护照）", enabled: false });
    });
  });

  describe("常用交款人", () => {
    let payerId: string;

    it("a clerk saves a payer for their point: the list masks it, the form gets it in full", async () => {
      const made = await h.call(
        "POST",
        "/v1/issuance/frequent-payers",
        { agencyCode: AGENCY, issuingPointCode: "WIN-01", ...PAYER },
        as(clerk1),
      );
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      payerId = made.body.id as string;
      expect(made.body).toMatchObject({ name: PAYER.name, code: "110***********002X", phone: "139****5678" });
      const listed = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}`,
        undefined,
        as(clerk1),
      );
      expect(listed.status).toBe(200);
      const items = listed.body.items as Array<Record<string, unknown>>;
      expect(items.map((p) => p.id)).toEqual([payerId]);
      expect(JSON.stringify(items)).not.toContain(PAYER.code);
      expect(JSON.stringify(items)).not.toContain(PAYER.phone);
      expect(JSON.stringify(items)).not.toContain(PAYER.email);
      const full = await h.call("GET", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(clerk1));
      expect(full.body).toMatchObject(PAYER);
      // Found by keyed hash of the ID number (any case of its X, blanks ignored) and of the name.
      for (const q of ["code=11010519491231002x", `name=${encodeURIComponent("常用交款人甲")}`]) {
        const found = await h.call(
          "GET",
          `/v1/issuance/frequent-payers?agencyCode=${AGENCY}&${q}`,
          undefined,
          as(clerk1),
        );
        expect([found.status, (found.body.items as unknown[]).length], q).toEqual([200, 1]);
      }
      const none = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}&name=${encodeURIComponent("别人")}`,
        undefined,
        as(clerk1),
      );
      expect(none.body.items).toEqual([]);
      // The same payer twice at one point is refused.
      const twice = await h.call(
        "POST",
        "/v1/issuance/frequent-payers",
        {
          agencyCode: AGENCY,
          issuingPointCode: "WIN-01",
          ...PAYER,
          code: "11010519491231002x".toUpperCase(),
        },
        as(clerk1),
      );
      expect([twice.status, twice.body.code]).toEqual([409, "FREQUENT_PAYER_EXISTS"]);
    });

    it("sealed at rest: no personal field in clear in its row", async () => {
      const rows = (await h.db.query("SELECT row_to_json(p)::text AS t FROM frequent_payer p WHERE id = $1", [
        payerId,
      ])) as Array<{ t: string }>;
      expect(rows).toHaveLength(1);
      for (const v of [PAYER.code, PAYER.name, PAYER.phone, PAYER.email]) {
        expect(rows[0]!.t).not.toContain(v);
        expect(rows[0]!.t).not.toContain(Buffer.from(v, "utf8").toString("hex"));
      }
      const audit = (await h.db.query("SELECT detail::text AS t FROM audit_log WHERE subject LIKE $1", [
        `frequent-payer:%:${payerId}`,
      ])) as Array<{ t: string }>;
      expect(audit).toHaveLength(1);
      expect(audit[0]!.t).not.toContain(PAYER.code);
    });

    it("bad input is a 400 naming the field", async () => {
      const base = { agencyCode: AGENCY, issuingPointCode: "WIN-01", ...PAYER, code: "110105198001011238" };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...base, code: "110105198001011230" }, "body.code"],
        [{ ...base, type: 3 }, "body.type"],
        [{ ...base, name: "" }, "body.name"],
        [{ ...base, phone: "12345" }, "body.phone"],
        [{ ...base, email: "not-mail" }, "body.email"],
        [{ ...base, extra: 1 }, "body.extra"],
      ];
      for (const [body, field] of cases) {
        const res = await h.call("POST", "/v1/issuance/frequent-payers", body, as(clerk1));
        expect([res.status, res.body.issues?.map((i) => i.field)], JSON.stringify(body)).toEqual([
          400,
          expect.arrayContaining([field]),
        ]);
      }
      // An issuing point the agency does not have (asked by an agency-wide grant; a clerk of WIN-01 gets 403).
      const unknownPoint = await h.call("POST", "/v1/issuance/frequent-payers", {
        ...base,
        issuingPointCode: "WIN-99",
      });
      expect([unknownPoint.status, unknownPoint.body.issues?.[0]?.field]).toEqual([
        400,
        "body.issuingPointCode",
      ]);
      const q = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}&limit=0`,
        undefined,
        as(clerk1),
      );
      expect([q.status, q.body.issues?.[0]?.field]).toEqual([400, "query.limit"]);
    });

    it("another point's clerk and another agency see nothing of it and cannot change it", async () => {
      const list2 = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}`,
        undefined,
        as(clerk2),
      );
      expect(list2.body.items).toEqual([]);
      const asked = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}&issuingPointCode=WIN-01`,
        undefined,
        as(clerk2),
      );
      expect(asked.status).toBe(403);
      const saveFor1 = await h.call(
        "POST",
        "/v1/issuance/frequent-payers",
        { agencyCode: AGENCY, issuingPointCode: "WIN-01", ...PAYER, name: "冒名" },
        as(clerk2),
      );
      expect(saveFor1.status).toBe(403);
      for (const who of [clerk2, otherClerk]) {
        const get = await h.call("GET", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(who));
        expect([get.status, get.body.code]).toEqual([404, "FREQUENT_PAYER_UNKNOWN"]);
        const put = await h.call(
          "PUT",
          `/v1/issuance/frequent-payers/${payerId}`,
          { type: 1, code: PAYER.code, name: "改名" },
          as(who),
        );
        expect([put.status, put.body.code]).toEqual([404, "FREQUENT_PAYER_UNKNOWN"]);
        const del = await h.call("DELETE", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(who));
        expect([del.status, del.body.code]).toEqual([404, "FREQUENT_PAYER_UNKNOWN"]);
      }
      const other = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}`,
        undefined,
        as(otherClerk),
      );
      expect(other.status).toBe(403);
      // A ticket manager has no 开票: the window's payers are not theirs.
      const mgr = await h.call(
        "GET",
        `/v1/issuance/frequent-payers?agencyCode=${AGENCY}`,
        undefined,
        as(manager),
      );
      expect([mgr.status, mgr.body.code]).toEqual([403, "PERMISSION_DENIED"]);
      const still = await h.call("GET", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(clerk1));
      expect(still.body.name).toBe(PAYER.name);
    });

    it("the clerk changes and deletes it, audited", async () => {
      const put = await h.call(
        "PUT",
        `/v1/issuance/frequent-payers/${payerId}`,
        { type: 1, code: PAYER.code, name: "常用交款人乙", phone: "13800138000" },
        as(clerk1),
      );
      expect([put.status, put.body.name, put.body.email]).toEqual([200, "常用交款人乙", undefined]);
      const full = await h.call("GET", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(clerk1));
      expect(full.body).toMatchObject({ name: "常用交款人乙", phone: "13800138000" });
      const del = await h.call("DELETE", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(clerk1));
      expect(del.status).toBe(200);
      expect(
        (await h.call("GET", `/v1/issuance/frequent-payers/${payerId}`, undefined, as(clerk1))).status,
      ).toBe(404);
      const audit = (await h.db.query("SELECT action FROM audit_log WHERE subject LIKE $1 ORDER BY id", [
        `frequent-payer:%:${payerId}`,
      ])) as Array<{ action: string }>;
      expect(audit.map((a) => a.action)).toEqual([
        "frequent-payer.create",
        "frequent-payer.update",
        "frequent-payer.delete",
      ]);
    });
  });
});
