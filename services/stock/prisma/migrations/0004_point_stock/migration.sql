-- CreateTable
CREATE TABLE "point_stock" (
    "agency_code" TEXT NOT NULL,
    "bill_code" CHAR(8) NOT NULL,
    "issuing_point_code" TEXT NOT NULL,
    "unused" INTEGER NOT NULL,

    CONSTRAINT "point_stock_pkey" PRIMARY KEY ("agency_code","bill_code","issuing_point_code")
);

-- Every ledger entry of an issuing point moves its balance in the same transaction: DISTRIBUTED
-- adds, every other movement there (USED, VOIDED, RETURNED, and the -1 of a use corrected to a
-- void) takes away, the same sign rule the ledger's per-point summary uses.
CREATE FUNCTION point_stock_follow_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.issuing_point_code IS NOT NULL THEN
    INSERT INTO point_stock (agency_code, bill_code, issuing_point_code, unused)
    VALUES (NEW.agency_code, NEW.bill_code, NEW.issuing_point_code,
            CASE WHEN NEW.movement = 'DISTRIBUTED' THEN NEW.quantity ELSE -NEW.quantity END)
    ON CONFLICT (agency_code, bill_code, issuing_point_code)
    DO UPDATE SET unused = point_stock.unused + EXCLUDED.unused;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER ledger_entry_moves_point_stock AFTER INSERT ON "ledger_entry"
  FOR EACH ROW EXECUTE FUNCTION point_stock_follow_ledger();

-- The balances of the ledger as it stands.
INSERT INTO point_stock (agency_code, bill_code, issuing_point_code, unused)
SELECT agency_code, bill_code, issuing_point_code,
       sum(CASE WHEN movement = 'DISTRIBUTED' THEN quantity ELSE -quantity END)::int
  FROM ledger_entry WHERE issuing_point_code IS NOT NULL
 GROUP BY agency_code, bill_code, issuing_point_code;

-- Ledger entries are a history: they are added, never changed or removed, or the balance would drift.
CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entry is append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER ledger_entry_no_change BEFORE UPDATE OR DELETE ON "ledger_entry"
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();
