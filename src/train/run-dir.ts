/**
 * The files a training run keeps in its run dir, shared by every trainer (retrievers and LLMs): the checkpoint
 * (written after every validation), the best parameters in their own file, and training.svg. A fresh run refuses a
 * dir that already holds a run unless told to start over: a new config beside an old checkpoint would let
 * `--resume` or `eval` read the old run.
 */
import { existsSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { ReclmError } from "../errors.ts";
import { writeSvg } from "../plots/render.ts";
import { trainingCurvesSpec, type CurvePoint } from "../plots/training-curves.ts";

export const CHECKPOINT_FILE = "checkpoint.safetensors";

/** Training curves (loss, validation metrics, best step), rewritten after every validation of a run with a dir. */
export const TRAINING_SVG = "training.svg";
const BEST_FILE = /^best-step\d+\.safetensors$/;

/** The run files of `dir`: the loop's own plus the trainer's `ownFiles`; anything else there is the user's. */
function runFilesIn(dir: string, ownFiles: readonly string[]): string[] {
  const own = new Set([CHECKPOINT_FILE, TRAINING_SVG, ...ownFiles]);
  return readdirSync(dir).filter((f) => own.has(f) || BEST_FILE.test(f));
}

/** Refuses (or, with overwrite, empties of its run files) a dir that already holds a run, before a fresh start. */
export function clearRunDir(dir: string, overwrite: boolean, ownFiles: readonly string[]): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the run dir is a file, not a directory", { file: dir, field: "out" });
  const stale = runFilesIn(dir, ownFiles);
  if (stale.length === 0) return;
  if (!overwrite) {
    throw new ReclmError(
      "RECLM_ERR_BAD_CONFIG",
      `the run dir already holds a run (${stale.join(", ")}): --resume continues it, --force starts over and deletes those files`,
      { file: dir, field: "out" },
    );
  }
  for (const f of stale) unlinkSync(join(dir, f));
}

/** Deletes the temp files of atomic writes a killed run left behind (never read: only renamed files are). */
export function removeStaleTempFiles(dir: string): void {
  for (const f of readdirSync(dir)) if (/^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(f)) unlinkSync(join(dir, f));
}

/** Deletes best-parameter files other than `keep` (the one the latest checkpoint names). */
export function removeStaleBest(dir: string, keep: string | null): void {
  for (const f of readdirSync(dir)) {
    if (BEST_FILE.test(f) && f !== keep) unlinkSync(join(dir, f));
  }
}

/** Draws a run's training.svg from its validations; the loop after each validation, `reclm plot` later. */
export async function writeTrainingCurves(
  dir: string,
  run: { title: string; selectMetric: string; validations: readonly CurvePoint[]; bestStep?: number; metrics?: readonly string[] },
): Promise<string> {
  return writeSvg(join(dir, TRAINING_SVG), trainingCurvesSpec({ title: run.title, validations: run.validations, selectMetric: run.selectMetric, bestStep: run.bestStep, metrics: run.metrics }));
}
