/** Option parsing and small helpers shared by the subcommands. */
import type { Command } from "commander";
import { loadDataset } from "../data/index.ts";
import type { EvalSplit, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import type { ProgressReporter } from "./progress.ts";

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

/** Where a dataset's files are: your own logs (`--dataset custom`) or a copy of a known dataset elsewhere. */
export interface DataFileOptions {
  dataDir?: string;
  interactions?: string;
  items?: string;
}

/** Adds --data-dir, --interactions and --items to a command that loads a dataset. */
export function withDataFileOptions(cmd: Command): Command {
  return cmd
    .option("--interactions <file>", "custom dataset: interactions CSV/TSV/JSONL (user, item, timestamp columns)")
    .option("--items <file>", "custom dataset: items CSV/TSV/JSONL (id, title, optional text and attributes)")
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

/** A command whose --dataset is optional: your own files when --interactions is given, the embedded dataset otherwise. */
export function datasetNameOrDefault(opts: { dataset?: string } & DataFileOptions): string {
  return opts.dataset ?? (opts.interactions !== undefined || opts.items !== undefined ? "custom" : "embedded");
}

/** The data-file flags a command was given, in the shape loadDataset and the training job take. */
export function dataFileOptions(opts: DataFileOptions): DataFileOptions {
  return { dataDir: opts.dataDir, interactions: opts.interactions, items: opts.items };
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
