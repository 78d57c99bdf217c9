import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { ReclmError } from "../../errors.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { trainInChild, type TrainJobInput } from "../../models/neural/train-job.ts";
import type { TrainReport } from "../../models/neural/report.ts";
import { CONFIG_FILE, readSavedConfig } from "../../models/neural/recommender.ts";
import { canonicalModelName, MODEL_ALIASES, NEURAL_MODEL_NAMES } from "../../models/registry.ts";
import { checkRunFlags, configFromFlags, runJobInput, runStamp, withDatasetOptions, withRunOptions, type ConfigFlags, type RunFlags } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface TrainOptions extends RunFlags, ConfigFlags {
  model?: string;
  preset?: string;
  out?: string;
}

function defaultRunDir(model: string, dataset: string): string {
  return join("runs", `${model}-${dataset}-${runStamp()}`);
}

export function trainCommand(): Command {
  return withRunOptions(withDatasetOptions(new Command("train")), {
    config: "JSON object of config fields (over defaults and preset)",
    set: "one config field (repeatable; over --config)",
    seed: "random seed (same as --set seed=<n>)",
    force: "start over in an --out that already holds a run (deletes its checkpoint, model and report)",
  })
    .description("train a sequential retriever (validation, early stopping, checkpoints) and evaluate it on test")
    .option("-m, --model <name>", `model: ${NEURAL_MODEL_NAMES.join(" | ")} (aliases: ${Object.keys(MODEL_ALIASES).join(", ")}); with --resume, default: the run's`, canonicalModelName)
    .option("--preset <name>", "hyper-parameter preset (default: the dataset's, if the model has one; 'none' = defaults)")
    .option("-o, --out <dir>", "run dir (checkpoint, model, config.json, report.json, report.md); default runs/<model>-<dataset>-<time>")
    .action(async (opts: TrainOptions) => {
      if (opts.model === undefined) {
        const saved = opts.resume && opts.out !== undefined && existsSync(join(opts.out, CONFIG_FILE)) ? readSavedConfig(opts.out).model : undefined;
        if (saved === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give --model <name> (or --out <run dir> --resume to continue a run)", { field: "--model" });
        opts.model = saved;
      }
      checkRunFlags(opts);
      const { config, source } = configFromFlags(opts);
      const outDir = resolve(opts.out ?? defaultRunDir(opts.model, opts.dataset));
      const input: TrainJobInput = {
        ...runJobInput(opts, outDir, source),
        config: opts.resume && Object.keys(config).length === 0 ? undefined : config,
        model: opts.model,
        preset: opts.preset,
      };
      const progress = createProgressReporter();
      let report: TrainReport;
      try {
        report = await trainInChild(input, { onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      const { best, test } = report;
      const rows = [{ method: `${opts.model} val (best @ step ${best.step})`, metrics: best.metrics }];
      if (test) rows.push({ method: `${opts.model} test`, metrics: test.metrics });
      process.stdout.write(
        `${opts.model} on ${report.dataset} (protocol ${report.datasetProtocol}, preset ${report.preset ?? "none"}): ${report.steps} steps, ` +
          `${report.epochs} epochs, stopped by ${report.stoppedBy}, ${report.seconds.toFixed(1)} s\n`,
      );
      process.stdout.write(`full ranking; test history masked${test ? `, ${test.nUsers} users` : ""}\n`);
      process.stdout.write(`${formatMetricsTable(rows)}\n`);
      process.stdout.write(`run dir: ${outDir}\n`);
    });
}
