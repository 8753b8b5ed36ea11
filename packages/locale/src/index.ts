export {
  addDays,
  businessDay,
  businessDayBounds,
  lastDayOfMonth,
  shanghaiTimestamp,
} from "./business-day.ts";
export { type FontChoice, findCjkFont, loadCjkFont } from "./font.ts";
export { fenToChineseUpper, fenToFigures, fenToYuan } from "./money.ts";
export { pdfBytes } from "./pdf.ts";
