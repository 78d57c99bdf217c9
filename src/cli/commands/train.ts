import { resolve } from "node:path";
import { Command } from "commander";
import { runInChild } from "../../engine/index.ts";
import { ReclmError } from "../../errors.ts";
import type { Metrics } from "../../eval/metrics.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { TRAIN_JOB_MODULE, type TrainJobInput, type TrainJobOutput } from "../../models/neural/train-job.ts";
import { canonicalModelName, MODEL_ALIASES, NEURAL_MODEL_NAMES } from "../../models/registry.ts";
import { checkResumeFlags, configOverrides, dataFileOptions, defaultRunDir, withDataFileOptions, withRunDirFlags, type DataFileOptions, type RunDirFlags } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface TrainOptions extends DataFileOptions, RunDirFlags {
  model: string;
  dataset: string;
  protocol?: string;
  preset?: string;
}

export function trainCommand(): Command {
  return withRunDirFlags(withDataFileOptions(new Command("train")), "run dir (checkpoint, model, config.json, report.json, report.md); default runs/<model>-<dataset>-<time>")
    .description("train a sequential retriever (validation, early stopping, checkpoints) and evaluate it on test")
    .requiredOption("-m, --model <name>", `model: ${NEURAL_MODEL_NAMES.join(" | ")} (aliases: ${Object.keys(MODEL_ALIASES).join(", ")})`, canonicalModelName)
    .requiredOption("-d, --dataset <name>", "dataset name (see `reclm data list`)")
    .option("-p, --protocol <name>", "data protocol (default: the dataset's default)")
    .option("--preset <name>", "hyper-parameter preset (default: the dataset's, if the model has one; 'none' = defaults)")
    .action(async (opts: TrainOptions) => {
      checkResumeFlags(opts);
      const { config, source } = configOverrides(opts);
      const outDir = resolve(opts.out ?? defaultRunDir(`${opts.model}-${opts.dataset}`));
      const input: TrainJobInput = {
        model: opts.model,
        dataset: opts.dataset,
        protocol: opts.protocol,
        dataFiles: dataFileOptions(opts),
        preset: opts.preset,
        config: opts.resume && Object.keys(config).length === 0 ? undefined : config,
        configSource: source,
        outDir,
        resume: opts.resume,
        overwrite: opts.force,
        threads: opts.threads,
        maxSteps: opts.maxSteps,
      };
      const progress = createProgressReporter();
      let report: TrainJobOutput;
      try {
        report = await runInChild<TrainJobInput, TrainJobOutput>(TRAIN_JOB_MODULE, input, { onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      const best = report.best as { step: number; metrics: Metrics };
      const test = report.test as { metrics: Metrics; nUsers: number } | null;
      const rows = [{ method: `${opts.model} val (best @ step ${best.step})`, metrics: best.metrics }];
      if (test) rows.push({ method: `${opts.model} test`, metrics: test.metrics });
      process.stdout.write(
        `${opts.model} on ${report.dataset} (protocol ${report.datasetProtocol}, preset ${report.preset ?? "none"}): ${report.steps} steps, ` +
          `${report.epochs} epochs, stopped by ${report.stoppedBy}, ${(report.seconds as number).toFixed(1)} s\n`,
      );
      process.stdout.write(`full ranking; test history masked${test ? `, ${test.nUsers} users` : ""}\n`);
      process.stdout.write(`${formatMetricsTable(rows)}\n`);
      process.stdout.write(`run dir: ${outDir}\n`);
    });
}
