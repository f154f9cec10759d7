/**
 * What every bench module shares: the repository root, the error that means "something is wrong"
 * (exit 1, as opposed to a missed target, which is only reported), and small number helpers.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (scripts/bench/ is two levels down). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Something is actually wrong (a target does not answer, a check fails, a build fails): exit status 1. */
export class BenchError extends Error {
  override name = "BenchError";
}

/** Throw a BenchError with `message` unless `cond` holds. */
export function expect(cond: boolean, message: string): void {
  if (!cond) throw new BenchError(message);
}

/** The value at percentile p of an ascending array (nearest rank), NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** The median of a list of numbers (NaN when empty). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** A number for tables: fixed digits, "-" when not finite. */
export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "-");

/** The message of anything thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
