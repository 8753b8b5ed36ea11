/**
 * Money as printed on a receipt: figures with 2 decimals, and the upper-case Chinese amount
 * (大写金额) written the way 《支付结算办法》 asks for cheques and receipts: 壹贰叁…, 拾佰仟 within
 * a group of four digits, 万/亿 between groups, one 零 for any run of zeros inside the number,
 * 元角分, and 整 when there are no 分. A red receipt's negative amount reads 负….
 */
const DIGITS = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"] as const;
const WITHIN_GROUP = ["", "拾", "佰", "仟"] as const;
const GROUPS = ["", "万", "亿", "万亿"] as const;

/** "1234.50" from 123450 fen; "-80.00" from -8000. */
export function fenToYuan(fen: bigint): string {
  const sign = fen < 0n ? "-" : "";
  const abs = fen < 0n ? -fen : fen;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/** ¥1,234.50 with thousands separators, for the printed total. */
export function fenToFigures(fen: bigint): string {
  const [whole, cents] = fenToYuan(fen).split(".") as [string, string];
  const negative = whole.startsWith("-");
  const digits = negative ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${grouped}.${cents}`;
}

export function fenToChineseUpper(fen: bigint): string {
  if (fen < 0n) return `负${fenToChineseUpper(-fen)}`;
  const yuan = fen / 100n;
  const jiao = Number((fen / 10n) % 10n);
  const cents = Number(fen % 10n);
  if (fen === 0n) return "零元整";
  let out = yuan > 0n ? `${yuanInWords(yuan)}元` : "";
  if (jiao === 0 && cents === 0) return `${out}整`;
  if (jiao > 0) out += `${DIGITS[jiao]}角`;
  else if (yuan > 0n) out += "零";
  return cents > 0 ? `${out}${DIGITS[cents]}分` : `${out}整`;
}

function yuanInWords(yuan: bigint): string {
  const digits = yuan.toString();
  if (digits.length > 16) throw new RangeError("amount too large to write in words");
  let out = "";
  let pendingZero = false;
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i]);
    const position = digits.length - 1 - i;
    if (digit === 0) {
      if (out) pendingZero = true;
    } else {
      if (pendingZero) out += "零";
      pendingZero = false;
      out += DIGITS[digit]! + WITHIN_GROUP[position % 4]!;
    }
    const endOfGroup = position % 4 === 0 && position > 0;
    if (endOfGroup && groupHasValue(digits, i)) out += GROUPS[position / 4]!;
  }
  return out;
}

/** Whether the (up to) four digits of the group ending at index `end` are not all zero. */
function groupHasValue(digits: string, end: number): boolean {
  return /[1-9]/.test(digits.slice(Math.max(0, end - 3), end + 1));
}
