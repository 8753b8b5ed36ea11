-- 票据作废情况 pages in SQL (ORDER BY void_day, voided_at, id LIMIT … OFFSET …): the index gives a
-- page of a year's voids in order without sorting them all.
-- DropIndex
DROP INDEX "receipt_agency_code_void_day_idx";

-- CreateIndex
CREATE INDEX "receipt_agency_code_void_day_voided_at_id_idx" ON "receipt"("agency_code", "void_day", "voided_at", "id");
