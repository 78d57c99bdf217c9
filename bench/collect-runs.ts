/**
 * Collects finished training run dirs (`reclm train --out <dir>`, bench/lrurec.ts, ...) into one benchmark result:
 * one row per run (its test metrics, full ranking, history masked) and, per (model, dataset) with several runs, a
 * mean row with `metrics_std` — the way several seeds are reported.
 *
 *   npx tsx bench/collect-runs.ts --benchmark lrurec-ml-latest-small-seeds --command "<the commands that trained the runs>" \
 *     [--input <data file> ...] <run dir> <run dir> ...
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ReclmError } from "../src/errors.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

interface RunReport {
  model: string;
  dataset: string;
  datasetProtocol: string;
  preset?: string;
  config: { seed: number };
  steps: number;
  stoppedBy: string;
  seconds: number;
  threads: number;
  best: { step: number };
  test: { protocol: string; nUsers: number; metrics: Record<string, number> } | null;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { benchmark: { type: "string" }, command: { type: "string" }, input: { type: "string", multiple: true } },
});
if (!values.benchmark || !values.command || positionals.length === 0) {
  throw new ReclmError("RECLM_ERR_BAD_CONFIG", "usage: collect-runs.ts --benchmark NAME --command CMD [--input FILE ...] RUN_DIR...");
}

const runs = positionals.map((dir) => {
  const path = join(dir, "report.json");
  const r = JSON.parse(readFileSync(path, "utf8")) as RunReport;
  if (!r.test) throw new ReclmError("RECLM_ERR_BAD_DATASET", "the run has no test metrics (was it evaluated?)", { file: path, field: "test" });
  return r;
});

const rows: BenchRow[] = runs.map((r) => ({
  method: r.model,
  dataset: r.dataset,
  protocol: r.test!.protocol,
  metrics: r.test!.metrics,
  seeds: 1,
  notes:
    `seed ${r.config.seed}; data protocol ${r.datasetProtocol}; preset ${r.preset ?? "none"}; test split, history masked, ${r.test!.nUsers} users; ` +
    `best validation at step ${r.best.step}; ${r.steps} steps, stopped by ${r.stoppedBy}; ${r.seconds.toFixed(0)} s on ${r.threads} threads`,
}));

const groups = new Map<string, RunReport[]>();
for (const r of runs) groups.set(`${r.model}\u0000${r.dataset}`, [...(groups.get(`${r.model}\u0000${r.dataset}`) ?? []), r]);
for (const group of groups.values()) {
  if (group.length < 2) continue;
  const keys = Object.keys(group[0].test!.metrics);
  const mean: Record<string, number> = {};
  const std: Record<string, number> = {};
  for (const k of keys) {
    const xs = group.map((r) => r.test!.metrics[k]);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    mean[k] = m;
    std[k] = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  }
  rows.push({
    method: `${group[0].model}-mean`,
    dataset: group[0].dataset,
    protocol: group[0].test!.protocol,
    metrics: mean,
    metrics_std: std,
    seeds: group.length,
    notes: `mean over seeds ${group.map((r) => r.config.seed).join(", ")} of the rows above; sample std in metrics_std`,
  });
}

writeBenchResult({ benchmark: values.benchmark, command: values.command, inputs: values.input ?? [], rows });
