/** Option parsing and small helpers shared by the subcommands. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { loadDataset, type DataFiles, type DatasetFiles } from "../data/index.ts";
import { parseMemoryLimit } from "../data/duck/memory.ts";
import { parseSetFlags } from "../models/neural/config.ts";
import type { DatasetRef, RunDirOptions } from "../train/child-job.ts";
import type { EvalSplit, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { isModelUri, resolveLlmFile } from "../llm/model-source.ts";
import { createProgressReporter, type ProgressReporter } from "./progress.ts";

export function parseKs(value: string): number[] {
  const ks = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `--ks must be comma-separated positive integers, got "${value}"`, { field: "--ks" });
  }
  return ks;
}

export function parsePositiveInt(flag: string): (value: string) => number {
  return parseIntFlag(flag, 1, "a positive integer");
}

export function parseNonNegativeInt(flag: string): (value: string) => number {
  return parseIntFlag(flag, 0, "a non-negative integer");
}

function parseIntFlag(flag: string, min: number, what: string): (value: string) => number {
  return (value) => {
    // Plain digits only: Number() would also take "0x10", "1e3", "1.0" and " 5".
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${flag} must be ${what}, got "${value}"`, { field: flag });
    return n;
  };
}

/** A fusion weight in [0, 1] (src/eval/fusion.ts). */
export function parseFusionWeight(flag: string): (value: string) => number {
  return (value) => {
    const n = /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!(n >= 0 && n <= 1)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${flag} must be a number in [0, 1] (0: the ranker alone, 1: the retriever's order), got "${value}"`, { field: flag });
    return n;
  };
}

/** `--fusion`: a weight, or "validation" to choose it on the validation split. */
export function parseFusion(value: string): number | "validation" {
  return value.trim() === "validation" ? "validation" : parseFusionWeight("--fusion")(value);
}

export function parseSplit(value: string): EvalSplit {
  if (value !== "val" && value !== "test") {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `--split must be "val" or "test", got "${value}"`, { field: "--split" });
  }
  return value;
}

/** The command line as typed, for result files (re-runnable; arguments with spaces quoted). */
export function commandLine(argv: readonly string[] = process.argv.slice(2)): string {
  return ["reclm", ...argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))].join(" ");
}

/** Where a dataset's files are: your own logs (`--dataset custom`), a cluster's split, or a copy of a known dataset elsewhere. */
export type DataFileOptions = DataFiles;

/**
 * Adds -d/--dataset, -p/--protocol and the data-file options to a command that loads one dataset. Without --dataset:
 * the user's own files (--interactions, --items, --split-dir) mean "custom", as for `reclm run` and `reclm data`;
 * otherwise a run dir the command was given (--model, --ranker, --retriever) names the dataset and protocol it was
 * trained on (`datasetOfRunFlags`); otherwise --dataset is required.
 */
export function withDatasetOptions(cmd: Command): Command {
  return withDataFileOptions(cmd)
    .option("-d, --dataset <name>", "dataset name (see `reclm data list`); custom when --interactions or --split-dir is given; default: that of the run dir given (--model, --ranker, --retriever)")
    .option("-p, --protocol <name>", "data protocol (default: the run dir's, else the dataset's default)")
    .hook("preAction", (_, action) => {
      const opts = action.opts<{ dataset?: string; protocol?: string; out?: string; resume?: boolean } & DataFileOptions & RunDirFlags>();
      if (givesOwnData(opts)) {
        if (opts.dataset === undefined) action.setOptionValue("dataset", "custom");
        return;
      }
      if (opts.dataset !== undefined && opts.dataset !== "custom") return;
      // --resume continues the run in --out, which names its data as well as any run dir given.
      const fromRun = datasetOfRunFlags({ ranker: opts.ranker, model: opts.model, retriever: opts.retriever, out: opts.resume ? opts.out : undefined });
      if (!fromRun) {
        if (opts.dataset === undefined) action.error("error: required option '-d, --dataset <name>' not specified (or --interactions <file> for your own logs)");
        return;
      }
      action.setOptionValue("dataset", fromRun.dataset);
      if (opts.protocol === undefined) action.setOptionValue("protocol", fromRun.protocol);
      for (const [k, v] of Object.entries(fromRun.files ?? {})) action.setOptionValue(k, v);
    });
}

/** The run-dir flags a command may take; each run dir's config.json names the dataset it was trained on. */
export interface RunDirFlags {
  model?: string;
  ranker?: string;
  retriever?: string;
  /** The run dir a --resume continues. */
  out?: string;
}

/**
 * The dataset and protocol the first run dir among --ranker, --model, --retriever was trained on (every reclm run
 * dir's config.json records `dataset` and `datasetProtocol`), or undefined when none is a run dir. A run on the
 * user's own files (dataset "custom") also records them (`dataFiles`, absolute paths); one that does not (made before
 * reclm recorded them) cannot be reloaded from its name, and the error asks for the files.
 */
export function datasetOfRunFlags(flags: RunDirFlags): { dataset: string; protocol: string; dir: string; files?: DatasetFiles } | undefined {
  let unrecorded: { flag: string; dir: string; file: string } | undefined;
  for (const [flag, dir] of [["--out", flags.out], ["--ranker", flags.ranker], ["--model", flags.model], ["--retriever", flags.retriever]] as const) {
    if (dir === undefined) continue;
    const file = join(dir, "config.json");
    if (!existsSync(file)) continue;
    let saved: { dataset?: unknown; datasetProtocol?: unknown; dataFiles?: unknown };
    try {
      saved = JSON.parse(readFileSync(file, "utf8")) as typeof saved;
    } catch (e) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `config.json is not valid JSON (${(e as Error).message})`, { file });
    }
    if (typeof saved?.dataset !== "string" || typeof saved.datasetProtocol !== "string") continue;
    if (saved.dataset !== "custom") return { dataset: saved.dataset, protocol: saved.datasetProtocol, dir };
    const files = saved.dataFiles as DatasetFiles | undefined;
    if (files && typeof files === "object" && Object.values(files).length > 0 && Object.values(files).every((v) => typeof v === "string")) {
      return { dataset: "custom", protocol: saved.datasetProtocol, dir, files };
    }
    unrecorded ??= { flag, dir, file };
  }
  if (unrecorded) {
    throw new ReclmError(
      "RECLM_ERR_BAD_CONFIG",
      `the run in ${unrecorded.dir} (${unrecorded.flag}) was trained on your own data (dataset "custom") and does not record its files: give its --interactions <file> and --items <file> (or --split-dir <dir>)`,
      { file: unrecorded.file, field: "--interactions" },
    );
  }
  return undefined;
}

/** Adds --data-dir, --interactions, --items, --split-dir and --memory-limit to a command that loads a dataset. */
export function withDataFileOptions(cmd: Command): Command {
  return cmd
    .option("--interactions <file>", "custom dataset: interactions CSV/TSV/JSONL (optionally .gz) or Parquet (user, item, timestamp columns)")
    .option("--items <file>", "custom dataset: items CSV/TSV/JSONL (id, title, optional text and attributes)")
    .option(
      "--split-dir <dir>",
      "custom dataset: a directory of Parquet files holding a split a cluster prepared with reclm's protocol SQL (src/data/protocols/sql)",
    )
    .option(
      "--memory-limit <size>",
      "memory data preparation may use, e.g. 4GB or 512MiB (DuckDB spills beyond it; a log that cannot fit is refused). Default: 80% of RAM",
      (v: string) => parseMemoryLimit(v),
    )
    .option("--data-dir <dir>", "folder with the dataset's raw files (default: ../shared/data/<dataset>)");
}

/** Adds --mask-window to a command that ranks the whole catalogue with the history masked. */
export function withMaskWindowOption(cmd: Command): Command {
  const positive = parsePositiveInt("--mask-window");
  return cmd.option(
    "--mask-window <n|all>",
    "mask the history's last n items, or all of them. Default: a trained model's own window (its maxLen; the papers' " +
      "code masks the ids of its input sequence), the whole history for other models",
    (v: string) => (v === "all" ? Infinity : positive(v)),
  );
}

/** A mask window that covers the whole history (none given, or --mask-window all). */
function wholeHistory(window: number | undefined): boolean {
  return window === undefined || window === Infinity;
}

/** How a ranking masked the history, for the line a command prints. */
export function maskWindowText(window: number | undefined): string {
  return wholeHistory(window) ? "whole history masked" : `history masked in its last ${window} items`;
}

/** The mask window as JSON stores it (JSON has no Infinity): "all" for the whole history. */
export function maskWindowJson(window: number | undefined): number | "all" {
  return wholeHistory(window) ? "all" : (window as number);
}

/** Whether the flags name the user's own data files (--interactions, --items, --split-dir): dataset "custom". */
export function givesOwnData(opts: DataFileOptions): boolean {
  return opts.interactions !== undefined || opts.items !== undefined || opts.splitDir !== undefined;
}

/** A command whose --dataset is optional: your own files when --interactions is given, the embedded dataset otherwise. */
export function datasetNameOrDefault(opts: { dataset?: string } & DataFileOptions): string {
  return opts.dataset ?? (givesOwnData(opts) ? "custom" : "embedded");
}

/** The data-file flags a command was given, in the shape loadDataset and the training job take. */
export function dataFileOptions(opts: DataFileOptions): DataFileOptions {
  return { dataDir: opts.dataDir, interactions: opts.interactions, items: opts.items, splitDir: opts.splitDir, memoryLimit: opts.memoryLimit };
}

export async function loadWithProgress(
  name: string,
  options: { protocol?: string; refresh?: boolean } & DataFileOptions,
  progress: ProgressReporter,
): Promise<SequenceDataset> {
  try {
    return await loadDataset(name, { ...dataFileOptions(options), protocol: options.protocol, refresh: options.refresh, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
}

/** `--llm`: a GGUF path, or a model URI downloaded (once, with a progress bar) into reclm's models folder. */
export async function resolveLlmFileWithProgress(spec: string, field = "--llm"): Promise<string> {
  if (!isModelUri(spec)) return resolveLlmFile(spec);
  const progress = createProgressReporter();
  try {
    return await resolveLlmFile(spec, { field, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
}

/** commander's collector of a repeatable option. */
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

/** --config, --set and --seed of a training command. */
export interface ConfigFlags {
  config?: string;
  set: string[];
  seed?: number;
}

/** The config those flags give (--config < --set < --seed), and where it came from, for error messages. */
export function configFromFlags(opts: ConfigFlags): { config: Record<string, unknown>; source: string | undefined } {
  const config = { ...(opts.config ? readConfigFile(opts.config) : {}), ...parseSetFlags(opts.set), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
  const sources = [opts.config, opts.set.length ? "--set" : undefined, opts.seed !== undefined ? "--seed" : undefined].filter(Boolean);
  return { config, source: sources.join(" + ") || undefined };
}

/** Now as 20261206-193000, for default run dir names. */
export function runStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}

/** The flags every training command has besides its config. */
export interface RunFlags extends DataFileOptions {
  dataset: string;
  protocol?: string;
  resume?: boolean;
  force?: boolean;
  maxSteps?: number;
  threads?: number;
}

/** The dataset and run-dir part of a training job's input (the caller adds the config and its own fields). */
export function runJobInput(flags: RunFlags, outDir: string, configSource: string | undefined): DatasetRef & RunDirOptions {
  return {
    dataset: flags.dataset,
    protocol: flags.protocol,
    dataFiles: dataFileOptions(flags),
    outDir,
    configSource,
    resume: flags.resume,
    overwrite: flags.force,
    maxSteps: flags.maxSteps,
    threads: flags.threads,
  };
}

/** How a training command describes its own config fields in --help. */
export interface RunOptionTexts {
  /** --config's description. */
  config: string;
  /** --set's description. */
  set: string;
  /** --seed's description. */
  seed: string;
  /** --force's description. Default: start over in an --out that already holds a run. */
  force?: string;
}

/** Adds --config, --set, --seed, --resume, --force, --max-steps and --threads to a training command. */
export function withRunOptions(cmd: Command, texts: RunOptionTexts): Command {
  return cmd
    .option("--config <file.json>", texts.config)
    .option("--set <key=value>", texts.set, collect, [])
    .option("--seed <n>", texts.seed, parseNonNegativeInt("--seed"))
    .option("--resume", "continue the run in --out from its last checkpoint")
    .option("--force", texts.force ?? "start over in an --out that already holds a run")
    .option("--max-steps <n>", "stop after this many optimizer steps in total", parseNonNegativeInt("--max-steps"))
    .option("--threads <n>", "ggml CPU threads", parsePositiveInt("--threads"));
}

/** --resume and --force together are a contradiction; --resume names a run dir. */
export function checkRunFlags(flags: { resume?: boolean; force?: boolean; out?: string }, outRequired = true): void {
  if (flags.resume && flags.force) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--resume continues the run in --out and --force deletes it: pass one", { field: "--force" });
  if (outRequired && flags.resume && !flags.out) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--resume needs --out <run dir>", { field: "--resume" });
}
