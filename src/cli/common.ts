/** Option parsing and small helpers shared by the subcommands. */
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
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${flag} must be a positive integer, got "${value}"`, { field: flag });
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

export async function loadWithProgress(
  name: string,
  options: { protocol?: string; refresh?: boolean },
  progress: ProgressReporter,
): Promise<SequenceDataset> {
  try {
    return await loadDataset(name, { protocol: options.protocol, refresh: options.refresh, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
}
