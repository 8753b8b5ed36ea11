/** A payment's line as the receipt carries it. */
export interface Line {
  itemCode: string;
  quantity: string;
  amountFen: number;
}

/**
 * The lines a receipt is issued again with after a partial refund (轧差退付): the refunded
 * total comes off the last line first (the surcharge, then the fine, then the fees), a line
 * brought to nothing is dropped, and a reduced line keeps quantity 1 (its amount is no longer
 * quantity × standard). A full refund leaves no line: the receipt is only red-flushed.
 */
export function remainderAfterRefund(lines: readonly Line[], refundedFen: number): Line[] {
  let left = refundedFen;
  const out: Line[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as Line;
    const off = Math.min(left, line.amountFen);
    left -= off;
    if (line.amountFen - off > 0) {
      out.unshift(off === 0 ? { ...line } : { ...line, quantity: "1", amountFen: line.amountFen - off });
    }
  }
  return out;
}
