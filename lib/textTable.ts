/** Plain-text tables for terminal reports. */

export type Align = "left" | "right";

export interface TableOptions {
  /** Per column; default: the first column left, the others right (numbers). */
  align?: readonly Align[];
  /** Cells longer than this are clipped with "…" (default: no limit). */
  maxWidth?: number;
  /** Text between columns (default two spaces). */
  gap?: string;
  /** A line of dashes under the header (default true). */
  rule?: boolean;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** A table whose columns are as wide as their widest cell; whitespace inside cells is collapsed. */
export function textTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, opts: TableOptions = {}): string {
  const max = opts.maxWidth ?? Number.POSITIVE_INFINITY;
  const cells = [headers, ...rows].map((r) => headers.map((_, i) => clip((r[i] ?? "").replace(/\s+/g, " "), max)));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] as string).length)));
  const align = (i: number): Align => opts.align?.[i] ?? (i === 0 ? "left" : "right");
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (align(i) === "left" ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join(opts.gap ?? "  ")
      .trimEnd();
  const [head, ...body] = cells as string[][];
  return [line(head as string[]), ...(opts.rule === false ? [] : [line(widths.map((w) => "-".repeat(w)))]), ...body.map(line)].join("\n");
}
