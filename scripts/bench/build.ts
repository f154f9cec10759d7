/**
 * Bundle size, measured on what a deploy uploads: `wrangler deploy --dry-run --outdir` (the same
 * esbuild settings, conditions and polyfills as a real deploy), once as configured (wrangler.toml
 * sets no `minify`, so this is what `wrangler deploy` uploads today) and once with --minify. The
 * minified modules are also what the startup measurement evaluates. A bare Hono worker is built the
 * same way as the floor to compare with.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { BARE_HONO_SOURCE } from "./baselines.ts";
import { BenchError } from "./common.ts";
import { wrangler } from "./wrangler.ts";

/** Sizes in bytes; gzip is of the minified modules (zlib's default level, as wrangler reports it). */
export interface BundleSize {
  rawBytes: number;
  minifiedBytes: number;
  gzipBytes: number;
  /** The largest contributors to the minified bundle (package or src/ file), bytes in output. */
  largest: { input: string; bytes: number }[];
}

/** One worker built for deploy: its sizes and its minified modules (for the startup measurement). */
export interface DeployBuild {
  label: string;
  size: BundleSize;
  mainModule: string;
  /** Minified ES modules by name (usually one). */
  modules: Record<string, string>;
}

/** The upload's modules in an --outdir: every file but source maps and wrangler's README. */
function readModules(dir: string): Record<string, string> {
  const modules: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".map") || name === "README.md" || name.endsWith(".json")) continue;
    modules[name] = readFileSync(join(dir, name), "utf8");
  }
  if (Object.keys(modules).length === 0) throw new BenchError(`wrangler wrote no modules to ${dir}`);
  return modules;
}

const bytes = (modules: Record<string, string>) => Object.values(modules).reduce((n, m) => n + Buffer.byteLength(m), 0);

/** Group esbuild's metafile inputs by npm package (node_modules/<pkg>) or file, largest first. */
function largestInputs(metafile: string, limit = 6): { input: string; bytes: number }[] {
  const meta = JSON.parse(readFileSync(metafile, "utf8")) as {
    outputs: Record<string, { entryPoint?: string; inputs: Record<string, { bytesInOutput: number }> }>;
  };
  const totals = new Map<string, number>();
  for (const out of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const key = pkg ?? input.replace(/^(\.\.\/)+/, "");
      totals.set(key, (totals.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([input, n]) => ({ input, bytes: n }));
}

/** Build one worker twice with `wrangler deploy --dry-run` (`config`: extra args selecting it). */
async function deployBuild(label: string, config: string[], entry: string, tmp: string): Promise<DeployBuild> {
  const slug = label.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  const rawDir = join(tmp, `${slug}-raw`);
  const minDir = join(tmp, `${slug}-min`);
  const metafile = join(tmp, `${slug}-min-meta.json`);
  await wrangler(["deploy", "--dry-run", ...config, "--outdir", rawDir]);
  await wrangler(["deploy", "--dry-run", ...config, "--outdir", minDir, "--minify", "--metafile", metafile]);
  const modules = readModules(minDir);
  const mainModule = `${basename(entry).replace(/\.[cm]?[jt]s$/, "")}.js`;
  if (!(mainModule in modules)) throw new BenchError(`wrangler's build of ${label} has no ${mainModule} (modules: ${Object.keys(modules).join(", ")})`);
  return {
    label,
    mainModule,
    modules,
    size: {
      rawBytes: bytes(readModules(rawDir)),
      minifiedBytes: bytes(modules),
      gzipBytes: gzipSync(Object.values(modules).join("")).byteLength,
      largest: largestInputs(metafile),
    },
  };
}

/** Our worker as wrangler.toml's top level deploys it (`--env=`: the top-level environment). */
export function buildOurs(tmp: string): Promise<DeployBuild> {
  return deployBuild("edge-cache", ["--env="], "src/index.ts", tmp);
}

/**
 * The bare Hono worker, built from a throwaway wrangler config. `projectTmp` must be inside the
 * repository (e.g. .wrangler/tmp/...) so that "hono" resolves from its node_modules.
 */
export function buildBareHono(tmp: string, projectTmp: string, compatDate: string, root: string): Promise<DeployBuild> {
  mkdirSync(projectTmp, { recursive: true });
  writeFileSync(join(projectTmp, "bare-hono.ts"), BARE_HONO_SOURCE);
  const config = join(projectTmp, "wrangler.json");
  writeFileSync(config, JSON.stringify({ name: "bare-hono", main: "bare-hono.ts", compatibility_date: compatDate }));
  return deployBuild("bare Hono", ["-c", relative(root, config)], "bare-hono.ts", tmp);
}
