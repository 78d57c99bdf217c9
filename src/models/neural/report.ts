/**
 * What a finished training run leaves in its run dir besides the model: report.json (a `TrainReport`, also what the
 * training child hands back to the CLI) and report.md, and reading report.json back (`reclm plot`, a caller's code).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ReclmError } from "../../errors.ts";
import type { Metrics } from "../../eval/metrics.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../io.ts";
import type { StopReason, ValidationRecord } from "../../train/loop.ts";
import { writeTrainingCurves } from "../../train/run-dir.ts";
import type { BaseModelConfig } from "./contract.ts";
import type { NeuralRecommender } from "./recommender.ts";

export const REPORT_JSON = "report.json";
export const REPORT_MD = "report.md";

/** report.json: a finished run, JSON-safe (no Infinity, null for what is absent). */
export interface TrainReport {
  model: string;
  /** The model's paper, what it implements and its named deviations. */
  reference: string;
  dataset: string;
  datasetProtocol: string;
  preset: string | null;
  config: BaseModelConfig & Record<string, unknown>;
  /** Trainable parameters (floats). */
  parameters: number;
  threads: number;
  steps: number;
  epochs: number;
  stoppedBy: StopReason;
  /** Training wall time, summed over resumes (validation included, test excluded). */
  seconds: number;
  /** Over the optimizer steps of the whole run, resumes included; absent when none was timed. */
  examplesPerSecond?: number;
  resumedFromStep: number | null;
  /** The best validation by `config.selectMetric`. */
  best: { step: number; value: number; metrics: Metrics };
  validations: ValidationRecord[];
  /** The test split scored with the best parameters, history masked; null when the run skipped it. */
  test: {
    protocol: string;
    split: string;
    maskHistory: true;
    maskScope: BaseModelConfig["maskScope"];
    /** How many of the latest history items the test masked ("all": the whole history). */
    maskWindow: number | "all";
    nUsers: number;
    metrics: Metrics;
  } | null;
}

/** What a report is made from: the trainer's result, less what only lives in memory. */
export interface FinishedRun<C extends BaseModelConfig = BaseModelConfig> {
  model: string;
  dataset: string;
  datasetProtocol: string;
  preset: string | undefined;
  config: C;
  best: { step: number; value: number; metrics: Metrics };
  validations: ValidationRecord[];
  test: { protocol: string; split: string; nUsers: number; metrics: Metrics } | undefined;
  steps: number;
  epochs: number;
  stoppedBy: StopReason;
  seconds: number;
  examplesPerSecond: number | undefined;
  resumedFromStep: number | undefined;
  recommender: NeuralRecommender<C, unknown>;
}

export function trainReport<C extends BaseModelConfig>(r: FinishedRun<C>): TrainReport {
  return {
    model: r.model,
    reference: r.recommender.def.reference,
    dataset: r.dataset,
    datasetProtocol: r.datasetProtocol,
    preset: r.preset ?? null,
    config: r.config as BaseModelConfig & Record<string, unknown>,
    parameters: r.recommender.store.size,
    threads: r.recommender.engine.threads,
    steps: r.steps,
    epochs: r.epochs,
    stoppedBy: r.stoppedBy,
    seconds: r.seconds,
    examplesPerSecond: r.examplesPerSecond,
    resumedFromStep: r.resumedFromStep ?? null,
    best: r.best,
    validations: r.validations,
    test: r.test
      ? {
          protocol: r.test.protocol,
          split: r.test.split,
          maskHistory: true,
          maskScope: r.config.maskScope,
          // the history items the test masked (JSON has no Infinity: "all" for the whole history)
          maskWindow: r.recommender.maskWindow ?? "all",
          nUsers: r.test.nUsers,
          metrics: r.test.metrics,
        }
      : null,
  };
}

/** The end of a run: model.safetensors + config.json (the best parameters), report.json and report.md. */
export function writeRunFiles<C extends BaseModelConfig>(dir: string, r: FinishedRun<C>): TrainReport {
  r.recommender.save(dir);
  const report = trainReport(r);
  writeJsonAtomic(join(dir, REPORT_JSON), report);
  writeFileAtomic(join(dir, REPORT_MD), reportMarkdown(report, r.recommender.maskWindow));
  return report;
}

function reportMarkdown(r: TrainReport, maskWindow: number | undefined): string {
  const rows = [{ method: `${r.model} (val, best @ step ${r.best.step})`, metrics: r.best.metrics }];
  if (r.test) rows.push({ method: `${r.model} (test)`, metrics: r.test.metrics });
  return [
    `# ${r.model} on ${r.dataset} (protocol ${r.datasetProtocol})`,
    "",
    r.reference,
    "",
    `preset: ${r.preset ?? "none"}; ${r.steps} steps, ${r.epochs} epochs, stopped by ${r.stoppedBy}; ${r.seconds.toFixed(1)} s; ${r.parameters} parameters; ${r.threads} threads`,
    "",
    "Full ranking; validation history " +
      (r.config.maskHistoryInValidation ? "masked" : "not masked") +
      ", test history masked" +
      (maskWindow !== undefined ? ` in the model's window (its last ${maskWindow} items, as the papers' code)` : " (all of it)") +
      ".",
    "",
    "```",
    formatMetricsTable(rows),
    "```",
    "",
    "Config:",
    "",
    "```json",
    JSON.stringify(r.config, null, 2),
    "```",
    "",
  ].join("\n");
}

/** The fields of report.json that reading it back relies on (run dirs of every reclm version have them); the rest passes through as written. */
const SavedReportSchema = z
  .object({
    model: z.string(),
    dataset: z.string(),
    config: z.object({ selectMetric: z.string() }).passthrough(),
    best: z.object({ step: z.number() }).passthrough().nullable(),
    validations: z.array(z.object({ step: z.number(), loss: z.number().nullable(), metrics: z.record(z.string(), z.number()) }).passthrough()).min(1),
  })
  .passthrough();

/** report.json as read back: the checked fields typed, the rest as the run wrote it (a `TrainReport` since reclm 0.1). */
export type SavedTrainReport = z.infer<typeof SavedReportSchema>;

/** report.json of a finished run dir, checked: a missing, broken or foreign file names the file and field. */
export function readTrainReport(dir: string): SavedTrainReport {
  const file = join(dir, REPORT_JSON);
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "no report.json: not a finished `reclm train` run dir", { file });
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `report.json is not valid JSON (${(e as Error).message})`, { file });
  }
  const parsed = SavedReportSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `report.json: ${issue.message}`, { file, field: issue.path.join(".") });
  }
  return parsed.data;
}

/** Redraws a finished run's training.svg from its report.json (what `reclm plot` does); returns the file written. */
export async function plotRun(dir: string): Promise<string> {
  const r = readTrainReport(dir);
  return writeTrainingCurves(dir, { title: `${r.model} on ${r.dataset}`, selectMetric: r.config.selectMetric, validations: r.validations, bestStep: r.best?.step });
}
