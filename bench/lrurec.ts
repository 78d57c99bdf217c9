/**
 * LRURec quality benchmark: trains LRURec with the shared trainer on one dataset and preset, then reports the
 * full-ranking TEST metrics (history masked, per-user mean) of the best-validation parameters, beside the paper's
 * target, and writes bench/results/lrurec-<dataset>.json.
 *
 *   npx tsx bench/lrurec.ts --dataset ml-latest-small [--max-steps N] [--threads 1] [--seed 42] [--out runs/x] [--resume | --force]
 *
 * Targets (never lowered): LlamaRec Table 1 (anchors §1.4) for ml-latest-small and beauty, LRURec Table 3 (anchors §2)
 * for ml-1m. On ml-latest-small the row "lrurec (mean of batch means, batch 16)" is LlamaRec's official `test()`
 * figure (anchors §1.3 quirk), printed beside the exact per-user mean, named as such.
 * A --max-steps cap (when the machine cannot run the paper's patience to the end) is written into the row's notes.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { metricsMeanOfBatchMeans } from "../src/eval/metrics.ts";
import { LRURec } from "../src/models/lrurec.ts";
import { trainModel } from "../src/models/neural/trainer.ts";
import { sharedDir } from "../src/paths.ts";
import { paperTarget } from "../src/report/paper-targets.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";


const { values } = parseArgs({
  options: {
    dataset: { type: "string", default: "ml-latest-small" },
    preset: { type: "string" },
    "max-steps": { type: "string" },
    threads: { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    resume: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    set: { type: "string", multiple: true },
  },
});

const name = values.dataset!;
// The papers' protocols: llamarec on ml-latest-small, the published splits (the datasets' defaults) on beauty and ml-1m.
const target = paperTarget("lrurec", name);
const ds = await loadDataset(name, target ? { protocol: target.protocol } : {});
const overrides: Record<string, unknown> = {};
if (values.seed) overrides.seed = Number(values.seed);
for (const kv of values.set ?? []) {
  const [k, v] = kv.split("=");
  overrides[k] = v === "true" ? true : v === "false" ? false : Number.isNaN(Number(v)) ? v : Number(v);
}
const maxSteps = values["max-steps"] ? Number(values["max-steps"]) : undefined;
let lastLine = 0;
const result = await trainModel(LRURec, ds, {
  preset: values.preset,
  config: overrides,
  configSource: "--set",
  outDir: values.out,
  resume: values.resume,
  overwrite: values.force,
  maxSteps,
  threads: values.threads ? Number(values.threads) : undefined,
  onProgress: (p) => {
    const now = Date.now();
    if (now - lastLine < 30_000 && p.done !== p.total) return;
    lastLine = now;
    const info = Object.entries(p.info ?? {}).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(4) : v}`).join(", ");
    process.stderr.write(`${new Date().toISOString()} ${p.stage} ${p.done}/${p.total} ${info}\n`);
  },
});

const test = result.test!;
const cfg = result.config;
const capped = result.stoppedBy === "maxSteps";
const common =
  `data protocol ${ds.protocol}; preset ${result.preset ?? "none"}; test split, history masked, per-user mean over ${test.nUsers} users; ` +
  `best validation (unmasked=${!cfg.maskHistoryInValidation}) ${cfg.selectMetric} ${result.best.value.toFixed(4)} at step ${result.best.step}; ` +
  `${result.steps} steps, ${result.epochs} epochs, stopped by ${result.stoppedBy}${capped ? ` (CAPPED at --max-steps ${maxSteps}: patience ${cfg.patience} not exhausted)` : ""}; ` +
  (result.resumedFromStep !== undefined ? `resumed from the step-${result.resumedFromStep} checkpoint; ` : "") +
  `${result.seconds.toFixed(0)} s training+validation (${result.examplesPerSecond?.toFixed(1) ?? "?"} seq/s over the run's steps, ${result.recommender.engine.threads} threads); batch ${cfg.batchSize}, maxLen ${cfg.maxLen}, dropout ${cfg.dropout}/${cfg.lruDropout}, lr ${cfg.lr}, wd ${cfg.weightDecay}, seed ${cfg.seed}` +
  (target ? `; target ${target.source}: N@10 ${target.metrics["NDCG@10"]}, R@10 ${target.metrics["Recall@10"]}` : "");
const rows: BenchRow[] = [{ method: "lrurec", dataset: ds.name, protocol: "full-ranking", metrics: test.metrics, seeds: 1, notes: common }];
if (name === "ml-latest-small") {
  rows.push({
    method: `lrurec-mean-of-batch-means-b${cfg.evalBatchSize}`,
    dataset: ds.name,
    protocol: "full-ranking",
    metrics: metricsMeanOfBatchMeans(test.ranks, test.ks, cfg.evalBatchSize),
    seeds: 1,
    notes: `same run and ranks as the row "lrurec", averaged as LlamaRec's official test(): mean over batches of ${cfg.evalBatchSize} users of per-batch means (anchors §1.3)`,
  });
}
for (const row of rows) {
  if (!target) continue;
  const miss = Object.entries(target.metrics).map(([k, want]) => `${k} ${row.metrics[k].toFixed(4)} vs ${want} (${(((row.metrics[k] - want) / want) * 100).toFixed(1)}%)`);
  process.stdout.write(`${row.method}: ${miss.join(", ")}\n`);
}
const def = findDataset(name);
const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
const inputs = def ? def.inputFiles(ds.protocol, { dataDir: folder }) : [];
const argv = process.argv.slice(2).join(" ");
writeBenchResult({ benchmark: `lrurec-${name}`, command: `npx tsx bench/lrurec.ts ${argv}`, inputs, rows });
result.recommender.dispose();
