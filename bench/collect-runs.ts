/**
 * Collects finished training run dirs (`reclm train --out <dir>`, bench/lrurec.ts, ...) into one benchmark result:
 * one row per run (its test metrics, full ranking, history masked) and, per (model, dataset) with several runs, a
 * mean row with `metrics_std` — the way several seeds are reported.
 *
 *   npx tsx bench/collect-runs.ts --benchmark lrurec-ml-latest-small-seeds --command "<the commands that trained the runs>" \
 *     [--input <data file> ...] <run>[=<method name>] ...
 * A run is a run dir (its report.json), the one-line JSON that bench/torch/quality.py prints (a .json file: the
 * PyTorch reference trained on the same protocol), or a `reclm eval --batch-means n --out x.json` file (its
 * mean-of-batch-means figure). `<run dir>@<eval.json>` takes the run's test metrics from a later `reclm eval --out`
 * of that run dir instead of its report (a run tested again under another masking). `<quality.json>#batch-means` takes
 * the PyTorch result's mean-of-batch-means metrics instead of its per-user ones. `=name` names the row's method
 * (default: the model, or "<model>-pytorch"); runs with the same method name get a mean row.
 * `--carry <result.json>` (repeatable) brings in the single-seed rows of an earlier committed result, whose run dirs may
 * be gone, so that their seeds count in the new mean rows; each carried row says where it came from.
 * `--variant key=value` (repeatable) adds a setting every collected row shares to its `variant` (e.g. packed=true).
 * Rows follow ../shared/conventions/bench-results.md: the method is the model (or `=name`), and the seed, the
 * averaging and the mean of several seeds go in `variant` (`--headline` marks the last mean row, or the only row).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ReclmError } from "../src/errors.ts";
import { resolveConfig } from "../src/models/neural/config.ts";
import { getNeuralModel } from "../src/models/registry.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

interface RunReport {
  model: string;
  dataset: string;
  datasetProtocol: string;
  preset?: string;
  config: { seed: number } & Record<string, unknown>;
  steps: number;
  stoppedBy: string;
  seconds: number;
  threads: number;
  best: { step: number };
  test: { protocol: string; nUsers: number; maskWindow?: number | "all"; metrics: Record<string, number> } | null;
}

/** What `reclm eval --out` writes (the fields read here). */
interface EvalResult {
  model: string;
  modelSpec?: string;
  dataset: string;
  protocol: string;
  command: string;
  nUsers: number;
  maskHistory?: boolean;
  maskWindow?: number | "all";
  metrics: Record<string, number>;
  meanOfBatchMeans?: { batchSize: number; metrics: Record<string, number> };
}

/** How a test masked the history (a report's or an eval's maskWindow), in words. */
function masking(maskWindow: number | "all" | undefined, maskHistory = true): string {
  if (!maskHistory) return "history not masked";
  return typeof maskWindow === "number" ? `history masked in its last ${maskWindow} items (the model's window, as the papers' code)` : "whole history masked";
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    benchmark: { type: "string" },
    command: { type: "string" },
    input: { type: "string", multiple: true },
    carry: { type: "string", multiple: true },
    variant: { type: "string", multiple: true },
    headline: { type: "boolean", default: false },
  },
});
/** `--variant k=v` settings: numbers and booleans as JSON reads them, anything else a string. */
const shared: Record<string, unknown> = Object.fromEntries(
  (values.variant ?? []).map((kv) => {
    const eq = kv.indexOf("=");
    if (eq < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `--variant wants key=value, got "${kv}"`, { field: "variant" });
    const raw = kv.slice(eq + 1);
    let value: unknown = raw;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === "number" || typeof parsed === "boolean") value = parsed;
    } catch {
      // a plain string
    }
    return [kv.slice(0, eq), value];
  }),
);
if (!values.benchmark || !values.command || positionals.length === 0) {
  throw new ReclmError("RECLM_ERR_BAD_CONFIG", "usage: collect-runs.ts --benchmark NAME --command CMD [--input FILE ...] RUN_DIR...");
}

interface TorchQuality {
  model: string;
  framework: string;
  dataset: string;
  protocol: string;
  users: number;
  steps: number;
  best_step: number;
  stopped_by: string;
  seed?: number;
  dropout?: number;
  split?: string;
  metrics: Record<string, number>;
  wall_s: number;
  [batchMeans: `metrics_batch_means_b${number}`]: Record<string, number> | undefined;
}

interface Run {
  method: string;
  /** "per-user", or "batch-means-<n>" (the papers' test() figure). */
  averaging: string;
  dataset: string;
  protocol: string;
  seed: number | null;
  metrics: Record<string, number>;
  notes: string;
}

/** A JSON file's content, or an error naming the file. */
function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_DATASET", `cannot read it as JSON (${(e as Error).message})`, { file }, { cause: e });
  }
}

/** The seed of the run dir an eval result scored (its config.json), or null when the model was not a run dir. */
function seedOfEvaluatedRun(spec: string | undefined): number | null {
  if (!spec) return null;
  try {
    const config = JSON.parse(readFileSync(join(spec, "config.json"), "utf8")) as { config?: { seed?: unknown } };
    return typeof config.config?.seed === "number" ? config.config.seed : null;
  } catch {
    return null; // a baseline name, or a run dir no longer on this machine
  }
}

const runs: Run[] = positionals.map((arg) => {
  const eq = arg.indexOf("=");
  const spec = eq > 0 ? arg.slice(0, eq) : arg;
  const label = eq > 0 ? arg.slice(eq + 1) : undefined;
  const wantsBatchMeans = spec.endsWith("#batch-means");
  const path = wantsBatchMeans ? spec.slice(0, -"#batch-means".length) : spec;
  if (path.endsWith(".json") && !path.includes("@")) {
    const json = readJson(path) as Record<string, unknown>;
    if ("meanOfBatchMeans" in json) {
      // `reclm eval --batch-means n --out file.json`: LlamaRec's mean-of-batch-means figure of a run
      const e = json as unknown as EvalResult & { meanOfBatchMeans: NonNullable<EvalResult["meanOfBatchMeans"]> };
      const seed = seedOfEvaluatedRun(e.modelSpec ?? /(?:^|\s)(?:-m|--model)\s+(\S+)/.exec(e.command)?.[1]);
      return {
        method: label ?? e.model,
        averaging: `batch-means-${e.meanOfBatchMeans.batchSize}`,
        dataset: e.dataset,
        protocol: e.protocol,
        seed,
        metrics: e.meanOfBatchMeans.metrics,
        notes: `${seed === null ? "" : `seed ${seed}; `}the papers' test() figure (LlamaRec's and LRURec's trainers): mean over batches of ${e.meanOfBatchMeans.batchSize} users (user order) of per-batch means, ${e.nUsers} users, ${masking(e.maskWindow, e.maskHistory)}; from \`${e.command}\``,
      };
    }
    const t = json as unknown as TorchQuality;
    if (!t.metrics) throw new ReclmError("RECLM_ERR_BAD_DATASET", "not a bench/torch/quality.py result (no metrics)", { file: path, field: "metrics" });
    const batchKey = Object.keys(t).find((k) => k.startsWith("metrics_batch_means_b")) as `metrics_batch_means_b${number}` | undefined;
    if (wantsBatchMeans && !batchKey) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", "#batch-means asked, but the result has no metrics_batch_means_b<n>", { file: path, field: "metrics_batch_means_b16" });
    }
    const batchUsers = batchKey?.slice("metrics_batch_means_b".length);
    const averaging = wantsBatchMeans ? `mean over batches of ${batchUsers} users (user order) of per-batch means (the papers' test() figure)` : "per-user mean";
    const settings = [t.dropout === undefined ? "" : `dropout ${t.dropout}`, t.split ? `split: ${t.split}` : ""].filter(Boolean).join("; ");
    return {
      method: label ?? `${t.model}-${t.framework}`,
      averaging: wantsBatchMeans ? `batch-means-${batchUsers}` : "per-user",
      dataset: t.dataset,
      protocol: t.protocol,
      seed: t.seed ?? null,
      metrics: wantsBatchMeans ? t[batchKey!]! : t.metrics,
      notes: `${t.framework} reference (bench/torch/quality.py)${t.seed === undefined ? "" : `, seed ${t.seed}`}${settings ? `; ${settings}` : ""}; test split, history masked in its input window (the last max_len items, as the papers' code), ${t.users} users, ${averaging}; best validation at step ${t.best_step}; ${t.steps} steps, stopped by ${t.stopped_by}; ${t.wall_s.toFixed(0)} s`,
    };
  }
  const at = path.indexOf("@");
  const runDir = at > 0 ? path.slice(0, at) : path;
  const retest = at > 0 ? (readJson(path.slice(at + 1)) as EvalResult) : undefined;
  const file = join(runDir, "report.json");
  const r = readJson(file) as RunReport;
  if (!r.test) throw new ReclmError("RECLM_ERR_BAD_DATASET", "the run has no test metrics (was it evaluated?)", { file, field: "test" });
  // Settings the run changed from its preset (besides the seed), so a row says what it is.
  const preset = resolveConfig(getNeuralModel(r.model), { preset: r.preset ?? "none" }).config as unknown as Record<string, unknown>;
  const changed = Object.keys(r.config).filter((k) => k !== "seed" && JSON.stringify(r.config[k]) !== JSON.stringify(preset[k]));
  return {
    method: label ?? r.model,
    averaging: "per-user",
    dataset: r.dataset,
    protocol: r.test.protocol,
    seed: r.config.seed,
    metrics: retest?.metrics ?? r.test.metrics,
    notes:
      `seed ${r.config.seed}; data protocol ${r.datasetProtocol}; preset ${r.preset ?? "none"}` +
      (changed.length ? ` with ${changed.map((k) => `${k}=${JSON.stringify(r.config[k])} (preset ${JSON.stringify(preset[k])})`).join(", ")}` : "") +
      `; test split, ${retest ? `${masking(retest.maskWindow, retest.maskHistory)} (tested again: \`${retest.command}\`)` : masking(r.test.maskWindow)}, ${r.test.nUsers} users; ` +
      `best validation at step ${r.best.step}; ${r.steps} steps, stopped by ${r.stoppedBy}; ${r.seconds.toFixed(0)} s on ${r.threads} threads`,
  };
});

/** Single-seed rows of earlier results (their mean rows are recomputed here, not carried). */
const carried: Run[] = (values.carry ?? []).flatMap((file) => {
  const result = readJson(file) as { commit?: string; date?: string; rows?: BenchRow[] };
  if (!Array.isArray(result.rows)) throw new ReclmError("RECLM_ERR_BAD_DATASET", "not a bench result (no rows)", { file, field: "rows" });
  // A row made from a `reclm eval` file may not name its seed; its method's mean row lists the seeds in row order.
  const meanSeeds = new Map<string, string[]>();
  for (const row of result.rows) {
    const listed = /^mean over seeds ([\d, ]+) of the rows above/.exec(row.notes ?? "")?.[1];
    if (row.method.endsWith("-mean") && listed) meanSeeds.set(row.method.slice(0, -"-mean".length), listed.split(", "));
  }
  const nth = new Map<string, number>();
  return result.rows.flatMap((row, i): Run[] => {
    if (row.seeds !== 1) return [];
    const k = nth.get(row.method) ?? 0;
    nth.set(row.method, k + 1);
    const variant = (row as BenchRow & { variant?: Record<string, unknown> }).variant ?? {};
    const seed = (typeof variant.seed === "number" ? String(variant.seed) : undefined) ?? /\bseed (\d+)/.exec(row.notes ?? "")?.[1] ?? meanSeeds.get(row.method)?.[k];
    if (seed === undefined) throw new ReclmError("RECLM_ERR_BAD_DATASET", "a single-seed row whose notes name no seed", { file, field: `rows[${i}].notes` });
    return [
      {
        method: row.method,
        averaging: typeof variant.averaging === "string" ? variant.averaging : "per-user",
        dataset: row.dataset,
        protocol: row.protocol,
        seed: Number(seed),
        metrics: row.metrics,
        notes: `seed ${seed}, carried from ${file} (commit ${result.commit ?? "?"}, ${result.date ?? "?"}): ${row.notes ?? ""}`,
      },
    ];
  });
});
runs.unshift(...carried);

type Row = BenchRow & { variant: Record<string, unknown>; headline?: boolean };
const rows: Row[] = runs.map((r) => ({
  method: r.method,
  dataset: r.dataset,
  protocol: r.protocol,
  variant: { ...shared, averaging: r.averaging, ...(r.seed === null ? {} : { seed: r.seed }) },
  metrics: r.metrics,
  seeds: 1,
  notes: r.notes,
}));

// One mean row per method, dataset and averaging with several seeds.
const groups = new Map<string, Run[]>();
for (const r of runs) {
  const key = [r.method, r.dataset, r.protocol, r.averaging].join("\u0000");
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
for (const group of groups.values()) {
  if (group.length < 2) continue;
  const keys = Object.keys(group[0].metrics);
  const mean: Record<string, number> = {};
  const std: Record<string, number> = {};
  for (const k of keys) {
    const xs = group.map((r) => r.metrics[k]);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    mean[k] = m;
    std[k] = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  }
  rows.push({
    method: group[0].method,
    dataset: group[0].dataset,
    protocol: group[0].protocol,
    variant: { ...shared, averaging: group[0].averaging, seeds: `mean of ${group.length}` },
    metrics: mean,
    metrics_std: std,
    seeds: group.length,
    notes: `mean over seeds ${group.map((r) => r.seed ?? "?").join(", ")} of the rows above; sample std in metrics_std`,
  });
}
if (values.headline) {
  const means = rows.filter((r) => typeof r.variant.seeds === "string" && r.variant.averaging === "per-user");
  (means.at(-1) ?? rows.at(-1)!).headline = true;
}

writeBenchResult({ benchmark: values.benchmark, command: values.command, inputs: values.input ?? [], rows });
