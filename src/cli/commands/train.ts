import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { ReclmError } from "../../errors.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { parseSetFlags } from "../../models/neural/config.ts";
import { trainInChild, type TrainJobInput } from "../../models/neural/train-job.ts";
import type { TrainReport } from "../../models/neural/report.ts";
import { canonicalModelName, MODEL_ALIASES, NEURAL_MODEL_NAMES } from "../../models/registry.ts";
import { dataFileOptions, parseNonNegativeInt, parsePositiveInt, withDataFileOptions, type DataFileOptions } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface TrainOptions extends DataFileOptions {
  model: string;
  dataset: string;
  protocol?: string;
  preset?: string;
  config?: string;
  set: string[];
  out?: string;
  resume?: boolean;
  force?: boolean;
  seed?: number;
  threads?: number;
  maxSteps?: number;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A JSON config file: an object of config fields. Errors name the file (and the line of a syntax error). */
export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "config file not found", { file: path });
  if (statSync(path).isDirectory()) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the config file is a directory", { file: path });
  // Editors on Windows save JSON with a byte-order mark, which JSON.parse rejects as an invisible "unexpected token".
  const text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split("\n").length : undefined;
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `invalid JSON: ${msg}`, { file: path, line });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a config file must hold one JSON object of config fields", { file: path, line: 1 });
  }
  return value as Record<string, unknown>;
}

function defaultRunDir(model: string, dataset: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return join("runs", `${model}-${dataset}-${stamp}`);
}

export function trainCommand(): Command {
  return withDataFileOptions(new Command("train"))
    .description("train a sequential retriever (validation, early stopping, checkpoints) and evaluate it on test")
    .requiredOption("-m, --model <name>", `model: ${NEURAL_MODEL_NAMES.join(" | ")} (aliases: ${Object.keys(MODEL_ALIASES).join(", ")})`, canonicalModelName)
    .requiredOption("-d, --dataset <name>", "dataset name (see `reclm data list`)")
    .option("-p, --protocol <name>", "data protocol (default: the dataset's default)")
    .option("--preset <name>", "hyper-parameter preset (default: the dataset's, if the model has one; 'none' = defaults)")
    .option("--config <file.json>", "JSON object of config fields (over defaults and preset)")
    .option("--set <key=value>", "one config field (repeatable; over --config)", collect, [])
    .option("-o, --out <dir>", "run dir (checkpoint, model, config.json, report.json, report.md); default runs/<model>-<dataset>-<time>")
    .option("--resume", "continue the run in --out from its last checkpoint")
    .option("--force", "start over in an --out that already holds a run (deletes its checkpoint, model and report)")
    .option("--seed <n>", "random seed (same as --set seed=<n>)", parseNonNegativeInt("--seed"))
    .option("--threads <n>", "ggml CPU threads", parsePositiveInt("--threads"))
    .option("--max-steps <n>", "stop after this many optimizer steps in total", parseNonNegativeInt("--max-steps"))
    .action(async (opts: TrainOptions) => {
      if (opts.resume && opts.force) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--resume continues the run in --out and --force deletes it: pass one", { field: "--force" });
      if (opts.resume && !opts.out) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--resume needs --out <run dir>", { field: "--resume" });
      const config: Record<string, unknown> = {
        ...(opts.config ? readConfigFile(opts.config) : {}),
        ...parseSetFlags(opts.set),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      };
      const sources = [opts.config, opts.set.length ? "--set" : undefined, opts.seed !== undefined ? "--seed" : undefined].filter(Boolean);
      const outDir = resolve(opts.out ?? defaultRunDir(opts.model, opts.dataset));
      const input: TrainJobInput = {
        model: opts.model,
        dataset: opts.dataset,
        protocol: opts.protocol,
        dataFiles: dataFileOptions(opts),
        preset: opts.preset,
        config: opts.resume && Object.keys(config).length === 0 ? undefined : config,
        configSource: sources.join(" + ") || undefined,
        outDir,
        resume: opts.resume,
        overwrite: opts.force,
        threads: opts.threads,
        maxSteps: opts.maxSteps,
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
