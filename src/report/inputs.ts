/**
 * What `reclm report` reads: training run dirs (their report.json) and benchmark results (bench/results/*.json in
 * the shape of ../shared/conventions/bench-results.md). Both are checked field by field; a bad file is a ReclmError
 * naming it and the field.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { ReclmError } from "../errors.ts";

export const RUN_REPORT_JSON = "report.json";

/** The fields of a run dir's report.json the charts need (written by `reclm train`). */
const RunReportSchema = z.object({
  model: z.string(),
  dataset: z.string(),
  config: z.object({ selectMetric: z.string() }).passthrough(),
  best: z.object({ step: z.number() }).passthrough().nullable(),
  validations: z.array(z.object({ step: z.number(), loss: z.number().nullable(), metrics: z.record(z.string(), z.number()) }).passthrough()).min(1),
  test: z.object({ metrics: z.record(z.string(), z.number()) }).passthrough().nullable().optional(),
});

export type RunReport = z.infer<typeof RunReportSchema> & { dir: string };

const RowSchema = z
  .object({
    method: z.string().min(1),
    dataset: z.string().min(1),
    protocol: z.string().min(1),
    metrics: z.record(z.string(), z.number()),
    metrics_std: z.record(z.string(), z.number()).optional(),
    seeds: z.number().optional(),
    variant: z.record(z.string(), z.unknown()).optional(),
    headline: z.boolean().optional(),
    notes: z.string().optional(),
  })
  .passthrough();

const ResultFileSchema = z
  .object({
    benchmark: z.string(),
    command: z.string().optional(),
    machine: z.string().optional(),
    date: z.string().optional(),
    rows: z.array(RowSchema).min(1),
  })
  .passthrough();

export type ResultRow = z.infer<typeof RowSchema> & { file: string; index: number };

export interface ResultFile {
  path: string;
  benchmark: string;
  command?: string;
  machine?: string;
  date?: string;
  rows: ResultRow[];
}

export interface ReportInputs {
  runs: RunReport[];
  results: ResultFile[];
}

/** A run dir's report is part of a checkpoint; a results file is data: each fails with its own code. */
type BadFileCode = "RECLM_ERR_BAD_CHECKPOINT" | "RECLM_ERR_BAD_FIELD";

function readJson(file: string, code: BadFileCode): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ReclmError(code, `not valid JSON (${(e as Error).message})`, { file });
  }
}

function parse<T>(schema: z.ZodType<T>, raw: unknown, file: string, code: BadFileCode): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ReclmError(code, issue.message, { file, field: issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[") });
}

/** A run dir of `reclm train` (it must hold report.json: a finished run). */
export function readRunDir(dir: string): RunReport {
  const file = join(dir, RUN_REPORT_JSON);
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "no report.json: not a finished `reclm train` run dir", { file });
  return { ...parse(RunReportSchema, readJson(file, "RECLM_ERR_BAD_CHECKPOINT"), file, "RECLM_ERR_BAD_CHECKPOINT"), dir };
}

export function readResultFile(path: string): ResultFile {
  const r = parse(ResultFileSchema, readJson(path, "RECLM_ERR_BAD_FIELD"), path, "RECLM_ERR_BAD_FIELD");
  return { path, benchmark: r.benchmark, command: r.command, machine: r.machine, date: r.date, rows: r.rows.map((row, index) => ({ ...row, file: basename(path), index })) };
}

/** Each input is a run dir or a results file, told apart by what it is. */
export function readReportInputs(paths: readonly string[]): ReportInputs {
  const out: ReportInputs = { runs: [], results: [] };
  for (const p of paths) {
    if (!existsSync(p)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "no such run dir or results file", { file: p });
    if (statSync(p).isDirectory()) out.runs.push(readRunDir(p));
    else out.results.push(readResultFile(p));
  }
  return out;
}

/** method|dataset|protocol: the rows the conventions compare, and of which one is the headline. */
export function groupKey(r: { method: string; dataset: string; protocol: string }): string {
  return `${r.method}|${r.dataset}|${r.protocol}`;
}

export interface Headlines {
  /** One row per method/dataset/protocol: the one marked headline, or the only row there is. */
  rows: ResultRow[];
  /** Groups with several rows and not exactly one marked: the conventions' error, drawn in the detail chart only. */
  unresolved: { key: string; rows: ResultRow[]; marked: number }[];
}

export function headlineRows(rows: readonly ResultRow[]): Headlines {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const g = groupKey(r);
    const list = groups.get(g);
    if (list) list.push(r);
    else groups.set(g, [r]);
  }
  const out: Headlines = { rows: [], unresolved: [] };
  for (const [key, list] of groups) {
    const marked = list.filter((r) => r.headline === true);
    if (marked.length === 1) out.rows.push(marked[0]);
    else if (list.length === 1 && marked.length === 0) out.rows.push(list[0]);
    else out.unresolved.push({ key, rows: list, marked: marked.length });
  }
  return out;
}

/** A variant object in words, e.g. "dropout 0.4, seed 42". */
export function variantText(r: Pick<ResultRow, "variant" | "seeds">): string {
  const parts = Object.entries(r.variant ?? {}).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  if ((r.seeds ?? 1) > 1 && !("seeds" in (r.variant ?? {}))) parts.push(`mean of ${r.seeds} seeds`);
  return parts.join(", ");
}
