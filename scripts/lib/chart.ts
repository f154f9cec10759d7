/** Charts of a rate over time: ASCII bars for the terminal, an SVG line chart for a file. */

export interface Point {
  /** Bucket start, ms since the epoch. */
  time: number;
  /** 0..1, or null when the bucket has nothing to rate (the line breaks there). */
  rate: number | null;
  /** Requests in the bucket (drawn as faint volume bars in the SVG). */
  count: number;
  /** Tooltip / label extra. */
  note?: string;
}

/** One bar: "#" filled, "." rest, `width` characters. */
export function asciiBar(rate: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round(rate * width)));
  return "#".repeat(filled) + ".".repeat(width - filled);
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" })[c] ?? c);
}

/**
 * A standalone SVG line chart of `points` (rate 0..100% on the y axis, time on the x axis), with
 * request volume as faint bars behind the line and a dot per bucket (hover: its numbers).
 */
export function svgLineChart(points: Point[], opts: { title: string; bucketMs: number; label: (t: number) => string }): string {
  const W = 900;
  const H = 340;
  const m = { left: 56, right: 24, top: 44, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const t0 = points[0]?.time ?? 0;
  const t1 = (points[points.length - 1]?.time ?? t0) + opts.bucketMs;
  const x = (t: number) => m.left + ((t - t0) / Math.max(1, t1 - t0)) * pw;
  const y = (r: number) => m.top + (1 - r) * ph;
  const f = (n: number) => n.toFixed(1);
  const maxCount = Math.max(1, ...points.map((p) => p.count));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="15" font-weight="600" fill="#222">${esc(opts.title)}</text>`);
  // Volume bars.
  const bw = Math.max(1, (opts.bucketMs / Math.max(1, t1 - t0)) * pw - 1);
  for (const p of points) {
    if (!p.count) continue;
    const h = (p.count / maxCount) * ph * 0.35;
    out.push(`<rect x="${f(x(p.time))}" y="${f(m.top + ph - h)}" width="${f(bw)}" height="${f(h)}" fill="#8aa4c8" fill-opacity="0.25"><title>${esc(`${opts.label(p.time)}: ${p.count} requests`)}</title></rect>`);
  }
  // Grid and y labels.
  for (const r of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${f(y(r))}" y2="${f(y(r))}" stroke="${r === 0 ? "#888" : "#e2e2e2"}"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(y(r) + 4)}" text-anchor="end" fill="#555">${r * 100}%</text>`);
  }
  // X labels: at most ~8, on bucket starts.
  const step = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    if (i % step !== 0) return;
    out.push(`<line x1="${f(x(p.time))}" x2="${f(x(p.time))}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#888"/>`);
    out.push(`<text x="${f(x(p.time))}" y="${m.top + ph + 18}" text-anchor="middle" fill="#555">${esc(opts.label(p.time))}</text>`);
  });
  out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle" fill="#555">time (UTC); bars: requests per bucket (max ${maxCount})</text>`);
  // The line, broken where a bucket has no rate; points at bucket centres.
  const cx = (p: Point) => x(p.time + opts.bucketMs / 2);
  let seg: string[] = [];
  const flush = () => {
    if (seg.length > 1) out.push(`<polyline fill="none" stroke="#1f6feb" stroke-width="2" stroke-linejoin="round" points="${seg.join(" ")}"/>`);
    seg = [];
  };
  for (const p of points) {
    if (p.rate === null) flush();
    else seg.push(`${f(cx(p))},${f(y(p.rate))}`);
  }
  flush();
  for (const p of points) {
    if (p.rate === null) continue;
    const tip = `${opts.label(p.time)}: ${(p.rate * 100).toFixed(1)}%${p.note ? ` (${p.note})` : ""}`;
    out.push(`<circle cx="${f(cx(p))}" cy="${f(y(p.rate))}" r="3" fill="#1f6feb"><title>${esc(tip)}</title></circle>`);
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
