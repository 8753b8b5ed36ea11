export { FerryMover, type FerryMoverOptions } from "./ferry-mover.ts";
export { FinanceFerrySide } from "./finance-ferry-side.ts";
export {
  AGENCY,
  BILL,
  type ExchangeHarness,
  type FerryRig,
  SECRET,
  startExchangeHarness,
  startFerryRig,
  waitFor,
} from "./harness.ts";
