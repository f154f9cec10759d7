/**
 * Aligned plain-text tables for the operator scripts: two-space indent, upper-case headers, two
 * spaces between columns, numbers right-aligned (bench: no indent, a dashed rule under the header).
 */

export interface Column {
  header: string;
  /** Default "left". */
  align?: "left" | "right";
}

/** Display width: code points (our cells are ASCII plus "→" and similar single-width symbols). */
function width(s: string): number {
  return [...s].length;
}

function pad(s: string, w: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, w - width(s)));
  return align === "right" ? fill + s : s + fill;
}

export interface TableStyle {
  /** Before every line (default two spaces). */
  indent?: string;
  /** A line of dashes under the header row, as wide as each column (default false). */
  rule?: boolean;
}

/** A table with a header row; a left-aligned last column is not padded (no trailing spaces). */
export function formatTable(columns: Column[], rows: string[][], style: TableStyle = {}): string {
  const indent = style.indent ?? "  ";
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    indent + cells
      .map((cell, i) => (i === cells.length - 1 && (columns[i]?.align ?? "left") === "left" ? cell : pad(cell, widths[i] ?? 0, columns[i]?.align ?? "left")))
      .join("  ");
  const rule = style.rule ? [indent + widths.map((w) => "-".repeat(w)).join("  ")] : [];
  return [line(columns.map((c) => c.header)), ...rule, ...rows.map((r) => line(columns.map((_, i) => r[i] ?? "")))].join("\n");
}

/** Two aligned columns, label and value (scripts/purge.ts's summary block). */
export function formatPairs(rows: [string, string][]): string {
  const w = Math.max(0, ...rows.map(([k]) => width(k)));
  return rows.map(([k, v]) => `  ${pad(k, w, "left")}  ${v}`).join("\n");
}

/** "before → after" cells with the arrows lined up (pads each `before` to the widest). */
export function arrowCells(pairs: ([string, string] | string)[]): string[] {
  const w = Math.max(0, ...pairs.map((p) => (typeof p === "string" ? 0 : width(p[0]))));
  return pairs.map((p) => (typeof p === "string" ? p : `${pad(p[0], w, "left")} → ${p[1]}`));
}
