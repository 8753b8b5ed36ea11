-- The documents kept here name the payer: they are sealed at rest now (@piaoju/sealing, ADR 0015),
-- by the service (the key is not the database's). An archived receipt still never changes and is
-- never removed, with one exception: its document may move from its stored form to a sealed one
-- (sealing a row archived before sealing, or sealing again under a rotated key), every other
-- column unchanged. What it says cannot change unnoticed: the row's key is the SM3 of the clear
-- content, which verification computes again from the opened document.
CREATE OR REPLACE FUNCTION archived_receipt_is_immutable() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     -- base64 of a sealed value starts with that of "PJSL"
     AND left(NEW.document, 5) = 'UEpTT'
     AND (NEW.content_sm3, NEW.receipt_id, NEW.agency_code, NEW.bill_code, NEW.number, NEW.finance_ref,
          NEW.supervised_at, NEW.agency_signature, NEW.finance_signature, NEW.finance_certificate,
          NEW.archived_at)
         IS NOT DISTINCT FROM
         (OLD.content_sm3, OLD.receipt_id, OLD.agency_code, OLD.bill_code, OLD.number, OLD.finance_ref,
          OLD.supervised_at, OLD.agency_signature, OLD.finance_signature, OLD.finance_certificate,
          OLD.archived_at)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'archived receipts are immutable (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
