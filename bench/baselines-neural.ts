/**
 * The ID-based neural baselines (NARM, BERT4Rec, GRU4Rec, Caser) trained by the shared trainer and evaluated by full
 * ranking on the test split (history masked, per-user mean), as LlamaRec's Table 1 reports them (anchors §1.3/§1.4).
 *
 *   npx tsx bench/baselines-neural.ts train <model> <dataset> [--max-steps N] [--set key=value ...]
 *       trains with the model's preset for the dataset (docs/model-recipes.md) into runs/neural-baselines/<model>-<dataset>/
 *       (report.json, report.md, model + checkpoint); progress lines go to stderr. Long: start it in the background.
 *       --resume continues a run dir from its last validation checkpoint (give the same --set flags); with --max-steps
 *       equal to the checkpoint's step it only evaluates the best parameters on the test split (a run cut for time).
 *       --force starts over in a run dir that already holds a run.
 *   npx tsx bench/baselines-neural.ts collect
 *       reads every finished run dir and writes bench/results/neural-baselines-<dataset>.json (one file per dataset).
 *
 * A run stopped early (--max-steps, for the 2-core time budget) says so in its row's notes: its figures are those of
 * the best validation checkpoint reached, not of a converged model.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { listDatasets, loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { ReclmError } from "../src/errors.ts";
import { parseSetFlags, resolveConfig } from "../src/models/neural/config.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { trainModel } from "../src/models/neural/trainer.ts";
import { getNeuralModel } from "../src/models/registry.ts";
import { PACKAGE_ROOT, sharedDir } from "../src/paths.ts";
import { paperTarget } from "../src/report/paper-targets.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const RUNS = join(PACKAGE_ROOT, "runs", "neural-baselines");
const MODELS = ["narm", "bert4rec", "gru4rec", "caser"];


interface RunReport {
  model: string;
  dataset: string;
  datasetProtocol: string;
  preset: string | null;
  config: Record<string, unknown>;
  parameters: number;
  threads: number;
  steps: number;
  epochs: number;
  stoppedBy: string;
  seconds: number;
  examplesPerSecond?: number;
  best: { step: number; value: number };
  test: { metrics: Record<string, number>; nUsers: number } | null;
  maxSteps?: number;
}

async function train(args: string[]): Promise<void> {
  const [model, dataset] = args;
  if (!model || !dataset) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "usage: train <model> <dataset> [--max-steps N] [--resume] [--set k=v ...]");
  let maxSteps: number | undefined;
  let resume = false;
  let overwrite = false;
  const sets: string[] = [];
  for (let i = 2; i < args.length; i++) {
    if (args[i] === "--max-steps") maxSteps = Number(args[++i]);
    else if (args[i] === "--resume") resume = true;
    else if (args[i] === "--force") overwrite = true;
    else if (args[i] === "--set") sets.push(args[++i]);
    else throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown argument "${args[i]}"`, { field: "argv" });
  }
  const def = getNeuralModel(model);
  const ds = await loadDataset(dataset);
  const outDir = join(RUNS, `${model}-${dataset}`);
  let last = 0;
  const res = await trainModel(def, ds, {
    outDir,
    maxSteps,
    resume,
    overwrite,
    config: parseSetFlags(sets),
    configSource: "--set",
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 30_000 && p.done !== p.total) return;
      last = now;
      const info = Object.entries(p.info ?? {}).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(4) : v}`).join(", ");
      process.stderr.write(`${new Date().toISOString()} ${p.stage} ${p.done}/${p.total} ${p.unit ?? ""} ${info}\n`);
    },
  });
  // The trainer's report.json does not know the step cap a bench run used; keep it beside the report.
  const reportPath = join(outDir, "report.json");
  const report = JSON.parse(readFileSync(reportPath, "utf8")) as RunReport;
  report.maxSteps = maxSteps;
  writeJsonAtomic(reportPath, report);
  process.stderr.write(`${model} on ${dataset}: ${res.steps} steps, stopped by ${res.stoppedBy}, test ${JSON.stringify(res.test?.metrics)}\n`);
  res.recommender.dispose();
}

function collect(): void {
  if (!existsSync(RUNS)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "no runs yet", { file: RUNS });
  const byDataset = new Map<string, RunReport[]>();
  for (const dir of readdirSync(RUNS).sort()) {
    const p = join(RUNS, dir, "report.json");
    if (!existsSync(p)) continue;
    const r = JSON.parse(readFileSync(p, "utf8")) as RunReport;
    if (!MODELS.includes(r.model) || !r.test) continue;
    byDataset.set(r.dataset, [...(byDataset.get(r.dataset) ?? []), r]);
  }
  const available = new Map(listDatasets().map((d) => [d.name, d.available]));
  for (const [dataset, runs] of byDataset) {
    const rows: BenchRow[] = runs.map((r) => {
      const target = paperTarget(r.model, dataset);
      const paper = target?.protocol === r.datasetProtocol ? target.metrics : undefined;
      const c = r.config;
      const preset = resolveConfig(getNeuralModel(r.model), { preset: r.preset ?? "none" }).config as unknown as Record<string, unknown>;
      const overrides = Object.keys(c).filter((k) => JSON.stringify(c[k]) !== JSON.stringify(preset[k]));
      return {
        method: r.model,
        dataset,
        protocol: "full-ranking",
        // An evaluation-only resume trains no step, so it has no throughput to report.
        metrics: { ...r.test!.metrics, ...(r.examplesPerSecond ? { seq_per_s: r.examplesPerSecond } : {}) },
        seeds: 1,
        ...(paper ? { paper } : {}),
        notes:
          `data protocol ${r.datasetProtocol}; test split, history masked, per-user mean over ${r.test!.nUsers} users; ` +
          `preset ${r.preset ?? "none"} (maxLen ${c.maxLen}, batch ${c.batchSize}, dropout ${c.dropout}, lr ${c.lr}, wd ${c.weightDecay}, validate every ${c.validateEvery || "epoch"}); ` +
          (overrides.length ? `OVERRIDDEN vs preset: ${overrides.map((k) => `${k}=${JSON.stringify(c[k])} (preset ${JSON.stringify(preset[k])})`).join(", ")}; ` : "") +
          `best validation ${c.selectMetric} ${r.best.value.toFixed(4)} at step ${r.best.step} (validation history ${c.maskHistoryInValidation ? "masked" : "NOT masked"}, LlamaRec's choice); ` +
          `${r.steps} steps / ${r.epochs} epochs, stopped by ${r.stoppedBy}` +
          (r.stoppedBy === "maxSteps" ? ` (step cap ${r.maxSteps} for the 2-core time budget: NOT converged)` : "") +
          `; ${(r.seconds / 60).toFixed(1)} min on ${r.threads} thread(s) (machine shared with other jobs), ` +
          (r.examplesPerSecond ? "seq_per_s = training examples/s over the run's optimizer steps" : "throughput not recorded (a run checkpointed before reclm kept it over resumes)") +
          (paper ? `; paper (LlamaRec Table 1) N@10 ${paper["NDCG@10"]} R@10 ${paper["Recall@10"]}` : ""),
      };
    });
    const def = findDataset(dataset);
    const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
    const inputs = def && available.get(dataset) ? def.inputFiles(runs[0].datasetProtocol, { dataDir: folder }) : [];
    writeBenchResult({
      benchmark: `neural-baselines-${dataset}`,
      command: `npx tsx bench/baselines-neural.ts train <model> ${dataset} [...] (per row: see notes) && npx tsx bench/baselines-neural.ts collect`,
      inputs,
      rows,
    });
  }
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "train") await train(rest);
else if (cmd === "collect") collect();
else throw new ReclmError("RECLM_ERR_BAD_CONFIG", `usage: baselines-neural.ts train <model> <dataset> [--max-steps N] [--set k=v] | collect (got "${cmd}")`);
