/**
 * `reclm run`: the main job, end to end on one dataset (the embedded one unless told otherwise):
 * prepare the data, score the training-free baselines, train the neural retrievers (each in a child process, with
 * validation, early stopping and checkpoints), and put every model's test metrics in one full-ranking table.
 */
import { basename, join, resolve } from "node:path";
import type { SequenceDataset } from "../../contracts.ts";
import { llamarecRows } from "../../eval/llamarec.ts";
import { embeddedRankerSpecs } from "../../methods/llamarec/embedded.ts";
import { evaluateLlamaRec, type RankerSpec } from "../../methods/llamarec/evaluate.ts";
import { checkRunDataset, rankerSpecsOf } from "../../methods/llamarec/run.ts";
import { Command } from "commander";
import { datasetStats } from "../../data/index.ts";
import { fullRanking, DEFAULT_KS } from "../../eval/full-ranking.ts";
import type { Metrics } from "../../eval/metrics.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { BASELINE_NAMES, createBaseline } from "../../models/registry.ts";
import { trainInChild, type TrainJobInput } from "../../models/neural/train-job.ts";
import type { TrainReport } from "../../models/neural/report.ts";
import { canonicalModelName, getNeuralModel, NEURAL_MODEL_NAMES } from "../../models/registry.ts";
import { commandLine, dataFileOptions, datasetNameOrDefault, loadWithProgress, parsePositiveInt, runStamp, withDataFileOptions, type DataFileOptions } from "../common.ts";
import { writeFileAtomic } from "../../io.ts";
import { createProgressReporter } from "../progress.ts";
import { ReclmError } from "../../errors.ts";

interface RunOptions extends DataFileOptions {
  dataset?: string;
  protocol?: string;
  models: string[];
  llamarec: boolean;
  zeroShot?: boolean;
  ranker?: string;
  parallel?: number;
  out?: string;
  force?: boolean;
  threads?: number;
  maxSteps?: number;
}

interface ResultRow {
  method: string;
  metrics: Metrics;
  seconds: number;
  notes?: string;
}

function parseModelList(value: string): string[] {
  const names = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(NEURAL_MODEL_NAMES as readonly string[]).includes(n)) {
      throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown model "${n}" (known: ${NEURAL_MODEL_NAMES.join(", ")})`, { field: "--models" });
    }
  }
  return names;
}

/**
 * LlamaRec on the run's own LRURec: its top-20 (whole history masked, as the table above) re-ordered by an LLM ranker,
 * zero-shot and fine-tuned, beside LRURec alone on the same users (LlamaRec's subset and overall figures).
 */
async function llamarecStage(ds: SequenceDataset, opts: RunOptions, outDir: string): Promise<{ json: unknown; markdown: string[] } | undefined> {
  if (!opts.models.map(canonicalModelName).includes("lrurec")) {
    process.stdout.write("LlamaRec stage skipped: it re-orders LRURec's top-20, and --models has no lrurec\n");
    return undefined;
  }
  let rankers: RankerSpec[];
  if (opts.ranker) {
    const { run, specs } = rankerSpecsOf(opts.ranker);
    checkRunDataset(run, opts.ranker, ds);
    rankers = specs;
  } else if (ds.name === "embedded") rankers = embeddedRankerSpecs();
  else {
    process.stdout.write(`LlamaRec stage skipped: no ranker for ${ds.name} (fine-tune one with \`reclm finetune llamarec\`, then pass --ranker <run dir>)\n`);
    return undefined;
  }
  // The zero-shot base model is a second pass over every prompt: on request only, so the job stays within minutes.
  if (!opts.zeroShot) rankers = rankers.filter((r) => r.adapter !== undefined);
  const progress = createProgressReporter();
  let ev;
  const t0 = performance.now();
  try {
    ev = await evaluateLlamaRec({ ds, retriever: join(outDir, "lrurec"), rankers, split: "test", threads: opts.threads, parallel: opts.parallel, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const r0 = ev.results[0];
  const rows = ev.results.flatMap((r, i) => llamarecRows(r).filter((row) => row.labels.averaging === "per-user" && (i === 0 || row.method === r.ranker)));
  const header = `LlamaRec on ${ds.name}: LRURec's top-20 re-ordered by ${rankers.map((r) => r.name).join(" and ")} (${basename(rankers[0].llm)}); ${r0.nSubset} of ${r0.nTotal} test users have the answer in the top-20 (subset), overall = ranker on the subset + LRURec on the others`;
  process.stdout.write(`${header}\n${formatMetricsTable(rows)}\n`);
  const timing = ev.results.map((r, i) => `${r.ranker} ${(ev.secondsPerUser[i] * 1000).toFixed(1)} ms/user`).join(", ");
  process.stdout.write(`${timing}; stage ${seconds.toFixed(1)} s\n`);
  const metricKeys = Object.keys(rows[0].metrics);
  return {
    json: { rankers, seconds, msPerUser: ev.secondsPerUser.map((s) => s * 1000), rows },
    markdown: [
      "## LlamaRec stage",
      "",
      header,
      "",
      "| method | protocol | users | " + metricKeys.join(" | ") + " |",
      "|---|---|---|" + metricKeys.map(() => "---").join("|") + "|",
      ...rows.map((r) => `| ${r.method} | ${r.labels.protocol} | ${r.labels.users} | ${metricKeys.map((k) => r.metrics[k].toFixed(4)).join(" | ")} |`),
      "",
      timing,
      "",
    ],
  };
}

export function runCommand(): Command {
  return withDataFileOptions(new Command("run"))
    .description("the main job: dataset -> baselines + trained retrievers (LRURec by default) -> LlamaRec stage -> one table and a report")
    .option("-d, --dataset <name>", "dataset name (see `reclm data list`); default: \"custom\" with --interactions, else \"embedded\"")
    .option("-p, --protocol <name>", "data protocol (default: the dataset's default)")
    // LRURec alone by default: it is LlamaRec's retriever, and the whole job (baselines, LRURec, LlamaRec stage) must
    // stay within a few minutes on two cores; SASRec and the others are one --models away.
    .option("--models <list>", `neural retrievers to train, comma-separated (${NEURAL_MODEL_NAMES.join(", ")})`, parseModelList, ["lrurec"])
    .option("-o, --out <dir>", "run dir (default runs/run-<dataset>-<time>)")
    .option("--force", "start over in an --out that already holds runs (deletes their checkpoints, models and reports)")
    .option("--threads <n>", "ggml CPU threads", parsePositiveInt("--threads"))
    .option("--max-steps <n>", "cap each model's optimizer steps (a quick look; early stopping otherwise)", parsePositiveInt("--max-steps"))
    .option("--ranker <run dir>", "LlamaRec stage: a fine-tuned ranker (`reclm finetune llamarec`) to re-order LRURec's top-20 (default on the embedded dataset: the tiny LM and adapter that ship with reclm)")
    .option("--no-llamarec", "skip the LlamaRec stage")
    .option("--zero-shot", "LlamaRec stage: also rank with the base LLM without its adapter (a second pass)")
    .option("--parallel <n>", "LlamaRec stage: prompts llama.cpp evaluates side by side", parsePositiveInt("--parallel"))
    .action(async (opts: RunOptions) => {
      const dataset = datasetNameOrDefault(opts);
      const outDir = resolve(opts.out ?? join("runs", `run-${dataset}-${runStamp()}`));
      const ds = await loadWithProgress(dataset, opts, createProgressReporter());
      const stats = datasetStats(ds);
      process.stdout.write(
        `${ds.name} (protocol ${ds.protocol}): ${stats.users} users, ${stats.items} items, ${stats.interactions} interactions, ` +
          `avg length ${stats.avgLength.toFixed(2)}\n`,
      );

      const rows: ResultRow[] = [];
      for (const name of BASELINE_NAMES) {
        const t0 = performance.now();
        const model = createBaseline(name, ds, { split: "test" });
        const report = await fullRanking(model, ds, { split: "test", ks: DEFAULT_KS });
        rows.push({ method: name, metrics: report.metrics, seconds: (performance.now() - t0) / 1000, notes: "training-free" });
      }

      for (const name of opts.models.map(canonicalModelName)) {
        const def = getNeuralModel(name);
        const input: TrainJobInput = {
          model: name,
          dataset,
          protocol: opts.protocol,
          dataFiles: dataFileOptions(opts),
          outDir: join(outDir, name),
          overwrite: opts.force,
          // One table, one protocol: the training-free baselines above mask the whole history, so these do too.
          config: { maskScope: "history" },
          configSource: "reclm run (one masking for every model in its table)",
          threads: opts.threads,
          maxSteps: opts.maxSteps,
        };
        const progress = createProgressReporter();
        const t0 = performance.now();
        let report: TrainReport;
        try {
          report = await trainInChild(input, { onProgress: progress.onProgress });
        } finally {
          progress.stop();
        }
        const test = report.test;
        if (!test) throw new ReclmError("RECLM_ERR_INTERNAL", `${name}: the training run reported no test metrics`);
        rows.push({
          method: name,
          metrics: test.metrics,
          seconds: (performance.now() - t0) / 1000,
          notes: `${report.steps} steps, preset ${report.preset ?? "none"}, stopped by ${report.stoppedBy}; ${def.reference.split("\n")[0]}`,
        });
      }

      const header = `full ranking on ${ds.name} (protocol ${ds.protocol}), test split, ${stats.users} users, whole history masked for every model`;
      const table = formatMetricsTable(rows);
      process.stdout.write(`${header}\n${table}\n`);

      const llamarec = opts.llamarec ? await llamarecStage(ds, opts, outDir) : undefined;
      const json = { command: commandLine(), date: new Date().toISOString(), dataset: ds.name, datasetProtocol: ds.protocol, stats, protocol: "full-ranking", rows, llamarec: llamarec?.json ?? null };
      writeFileAtomic(join(outDir, "report.json"), `${JSON.stringify(json, null, 2)}\n`);
      const md = [
        `# reclm run on ${ds.name}`,
        "",
        `Command: \`${commandLine()}\``,
        "",
        header,
        "",
        "| method | " + Object.keys(rows[0].metrics).join(" | ") + " | seconds | notes |",
        "|---|" + Object.keys(rows[0].metrics).map(() => "---").join("|") + "|---|---|",
        ...rows.map((r) => `| ${r.method} | ${Object.values(r.metrics).map((v) => v.toFixed(4)).join(" | ")} | ${r.seconds.toFixed(1)} | ${r.notes ?? ""} |`),
        "",
        `Per-model run dirs (checkpoint, config, training report): ${opts.models.map((m) => `\`${m}/\``).join(", ") || "none"}.`,
        "",
        ...(llamarec ? llamarec.markdown : []),
      ].join("\n");
      writeFileAtomic(join(outDir, "report.md"), md);
      process.stdout.write(`run dir: ${outDir}\n`);
    });
}
