/**
 * Training in a child process (`trainInChild`): the job below runs there through the engine's runner
 * (src/engine/child.ts), so a ggml abort kills the child and becomes RECLM_ERR_ENGINE_CRASH in the caller instead of
 * taking it down without a message. Input and output are plain JSON-able objects (they cross IPC); the output is the
 * run's report.json.
 */
import { fileURLToPath } from "node:url";
import { runInChild, type ChildJob, type RunInChildOptions } from "../../engine/index.ts";
import { loadDataset } from "../../data/index.ts";
import { getNeuralModel } from "../registry.ts";
import { trainReport, type TrainReport } from "./report.ts";
import { trainModel } from "./trainer.ts";

export interface TrainJobInput {
  /** A trainable model's name or alias (the registry's). */
  model: string;
  /** A dataset name `loadDataset` knows. */
  dataset: string;
  protocol?: string;
  /** Where the dataset's files are (custom data: interactions/items files). */
  dataFiles?: { dataDir?: string; interactions?: string; items?: string };
  preset?: string;
  config?: Record<string, unknown>;
  configSource?: string;
  outDir: string;
  resume?: boolean;
  /** Start over in an outDir that already holds a run (its run files are deleted). */
  overwrite?: boolean;
  threads?: number;
  maxSteps?: number;
}

const job: ChildJob<TrainJobInput, TrainReport> = async (input, ctx) => {
  const def = getNeuralModel(input.model);
  const ds = await loadDataset(input.dataset, { ...input.dataFiles, protocol: input.protocol, onProgress: (p) => ctx.progress(p) });
  const res = await trainModel(def, ds, {
    preset: input.preset,
    config: input.config,
    configSource: input.configSource,
    outDir: input.outDir,
    resume: input.resume,
    overwrite: input.overwrite,
    threads: input.threads,
    maxSteps: input.maxSteps,
    onProgress: (p) => ctx.progress(p),
  });
  try {
    return res.report ?? trainReport(res);
  } finally {
    res.recommender.dispose();
  }
};

export default job;

/**
 * Trains `input.model` on `input.dataset` in a child process and resolves with the run's report (report.json's
 * content); the trained model is in `input.outDir`. Progress reaches `options.onProgress`.
 */
export async function trainInChild(input: TrainJobInput, options: RunInChildOptions = {}): Promise<TrainReport> {
  getNeuralModel(input.model); // an unknown name fails here, listing the models, before a process starts
  return runInChild<TrainJobInput, TrainReport>(fileURLToPath(import.meta.url), input, options);
}
