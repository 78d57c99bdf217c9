/**
 * Training in a child process (`trainInChild`): the job below runs there through the engine's runner
 * (src/engine/child.ts), so a ggml abort kills the child and becomes RECLM_ERR_ENGINE_CRASH in the caller instead of
 * taking it down without a message. Input and output are plain JSON-able objects (they cross IPC); the output is the
 * run's report.json.
 */
import { fileURLToPath } from "node:url";
import { runInChild, type RunInChildOptions } from "../../engine/index.ts";
import { datasetJob, type DatasetRef, type RunDirOptions } from "../../train/child-job.ts";
import { getNeuralModel } from "../registry.ts";
import { trainReport, type TrainReport } from "./report.ts";
import { trainModel } from "./trainer.ts";

export interface TrainJobInput extends DatasetRef, RunDirOptions {
  /** A trainable model's name or alias (the registry's). */
  model: string;
  /** Preset name; default: the preset named after the dataset, if the model has one; "none" = defaults only. */
  preset?: string;
}

export default datasetJob<TrainJobInput, TrainReport>(async (ds, { model, ...options }, onProgress) => {
  const res = await trainModel(getNeuralModel(model), ds, { ...options, onProgress });
  try {
    return res.report ?? trainReport(res);
  } finally {
    res.recommender.dispose();
  }
});

/**
 * Trains `input.model` on `input.dataset` in a child process and resolves with the run's report (report.json's
 * content); the trained model is in `input.outDir`. Progress reaches `options.onProgress`.
 */
export async function trainInChild(input: TrainJobInput, options: RunInChildOptions = {}): Promise<TrainReport> {
  getNeuralModel(input.model); // an unknown name fails here, listing the models, before a process starts
  return runInChild<TrainJobInput, TrainReport>(fileURLToPath(import.meta.url), input, options);
}
