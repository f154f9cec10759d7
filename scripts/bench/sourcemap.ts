/**
 * A minimal source-map (v3) reader: generated line/column to original file:line, so the CPU
 * profile names `src/pipeline.ts:245` instead of a line in the bundle. (No dependency: decoding
 * the base64 VLQ mappings is a few lines.)
 */

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** One mapping segment: generated column, source index, original line (0-based). */
type Segment = [genCol: number, source: number, line: number];

/** Decode one line's segments (fields after the first are cumulative across lines: `state`). */
function decodeLine(text: string, state: { source: number; line: number; col: number; name: number }): Segment[] {
  const out: Segment[] = [];
  let genCol = 0;
  for (const seg of text.split(",")) {
    if (!seg) continue;
    const fields: number[] = [];
    let value = 0;
    let shift = 0;
    for (const ch of seg) {
      const digit = B64.get(ch) ?? 0;
      value += (digit & 31) << shift;
      if (digit & 32) {
        shift += 5;
      } else {
        fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
        value = 0;
        shift = 0;
      }
    }
    genCol += fields[0] ?? 0;
    if (fields.length < 4) continue;
    state.source += fields[1] ?? 0;
    state.line += fields[2] ?? 0;
    state.col += fields[3] ?? 0;
    if (fields.length > 4) state.name += fields[4] ?? 0;
    out.push([genCol, state.source, state.line]);
  }
  return out;
}

/** Resolve generated (0-based line, column) to "file:line" (1-based), or undefined. */
export type SourceResolver = (line: number, column: number) => string | undefined;

/** A resolver for one source map (JSON text); sources are shown as written in the map. */
export function sourceResolver(mapJson: string): SourceResolver {
  const map = JSON.parse(mapJson) as { sources: string[]; mappings: string };
  const state = { source: 0, line: 0, col: 0, name: 0 };
  const lines = map.mappings.split(";").map((l) => decodeLine(l, state));
  return (line, column) => {
    const segments = lines[line];
    if (!segments?.length) return undefined;
    let best = segments[0];
    for (const s of segments) {
      if (s[0] > column) break;
      best = s;
    }
    if (!best) return undefined;
    const source = map.sources[best[1]];
    return source === undefined ? undefined : `${source.replace(/^(\.\.\/)+/, "")}:${best[2] + 1}`;
  };
}
