/**
 * The one writer of bench/results/<benchmark>.json, in the shape of ../shared/conventions/bench-results.md:
 * it fills machine, date and commit, hashes the inputs, checks names and metrics the way
 * ../shared/tools/check-bench-results does (so a bad row fails the run, not the review), writes atomically and
 * prints the rows as a table. Every benchmark uses it.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { sha256File as sha256OfFile } from "../../src/io.ts";
import { ReclmError } from "../../src/errors.ts";
import { formatMetricsTable } from "../../src/eval/report.ts";
import { writeJsonAtomic } from "../../src/io.ts";
import { PACKAGE_ROOT } from "../../src/paths.ts";

export interface BenchRow {
  method: string;
  dataset: string;
  protocol: string;
  metrics: Record<string, number>;
  seeds?: number;
  notes?: string;
  /** Other keys (e.g. metrics_std) are kept as given. */
  [extra: string]: unknown;
}

export interface BenchResultInput {
  /** File name under bench/results (without .json); lower-case, hyphenated. */
  benchmark: string;
  /** The command that produced the figures, re-runnable from the project root. */
  command: string;
  /** Data/model files the figures depend on; each is hashed (sha256). */
  inputs: readonly string[];
  rows: readonly BenchRow[];
  /** Defaults to <package>/bench/results. */
  dir?: string;
  /** Print the rows as a table to stdout. Defaults to true. */
  print?: boolean;
}

export interface BenchResult {
  benchmark: string;
  command: string;
  machine: string;
  date: string;
  commit: string;
  inputs: { path: string; sha256: string }[];
  rows: BenchRow[];
}

const NAME = /^[a-z0-9][a-z0-9.+-]*$/;

export function machineDescription(): string {
  const cores = cpus();
  const gb = Math.round(totalmem() / 2 ** 30);
  const model = cores[0]?.model?.trim() || "unknown cpu";
  return `${cores.length} cores, ${gb} GB, Node ${process.versions.node}, ${process.platform}-${process.arch} (${model})`;
}

/** Short sha of HEAD; "unknown" outside a git checkout (said plainly rather than guessed). */
export function gitCommit(cwd = PACKAGE_ROOT): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] }).toString().trim() || "unknown";
  } catch {
    return "unknown";
  }
}

export function sha256File(path: string): string {
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "benchmark input does not exist", { file: path });
  if (!statSync(path).isFile()) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "benchmark inputs must be files (list each file)", { file: path });
  return sha256OfFile(path);
}

/** Paths as the checker's readers see them: relative to the project root (e.g. ../shared/data/...). */
function displayPath(path: string): string {
  return relative(PACKAGE_ROOT, resolve(path)) || ".";
}

export function validateRows(benchmark: string, rows: readonly BenchRow[]): void {
  if (!NAME.test(benchmark)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `benchmark name "${benchmark}" must be lower-case and hyphenated`, { field: "benchmark" });
  if (rows.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a benchmark result needs at least one row", { field: "rows" });
  rows.forEach((row, i) => {
    for (const key of ["method", "dataset", "protocol"] as const) {
      if (typeof row[key] !== "string" || !NAME.test(row[key])) {
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `rows[${i}].${key} must be a lower-case hyphenated name, got ${JSON.stringify(row[key])}`, {
          field: `rows[${i}].${key}`,
        });
      }
    }
    const entries = Object.entries(row.metrics ?? {});
    if (entries.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `rows[${i}].metrics is empty`, { field: `rows[${i}].metrics` });
    for (const [k, v] of entries) {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `rows[${i}].metrics["${k}"] = ${v} is not a finite number`, { field: `rows[${i}].metrics` });
      }
    }
  });
}

export function writeBenchResult(input: BenchResultInput): { path: string; result: BenchResult } {
  validateRows(input.benchmark, input.rows);
  const result: BenchResult = {
    benchmark: input.benchmark,
    command: input.command,
    machine: machineDescription(),
    date: new Date().toISOString(),
    commit: gitCommit(),
    inputs: input.inputs.map((p) => ({ path: displayPath(p), sha256: sha256File(p) })),
    rows: input.rows.map((r) => ({ ...r })),
  };
  const dir = input.dir ?? join(PACKAGE_ROOT, "bench", "results");
  const path = writeJsonAtomic(join(dir, `${input.benchmark}.json`), result);
  if (input.print ?? true) {
    const table = formatMetricsTable(
      result.rows.map((r) => ({ method: r.method, labels: { dataset: r.dataset, protocol: r.protocol }, metrics: r.metrics })),
    );
    process.stdout.write(`${input.benchmark} (${result.commit}, ${result.machine})\n${table}\nwrote ${displayPath(path)}\n`);
  }
  return { path, result };
}
