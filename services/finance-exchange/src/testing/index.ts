export { FerryMover, type FerryMoverOptions } from "./ferry-mover.ts";
export { FinanceFerrySide } from "./finance-ferry-side.ts";
