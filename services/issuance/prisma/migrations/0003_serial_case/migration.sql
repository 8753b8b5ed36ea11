-- Business serial numbers no longer differ by case (packages/contracts `bizSerialNo` keeps them in
-- capitals), so stored ones are brought to capitals too: a retry in any case finds its receipt.
-- Two receipts whose serials differ only by case would make this fail on the unique index, which
-- is right: an operator must decide between them before the rule can hold.
UPDATE "receipt" SET "biz_serial_no" = upper("biz_serial_no") WHERE "biz_serial_no" <> upper("biz_serial_no");
