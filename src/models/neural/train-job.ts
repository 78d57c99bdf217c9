/**
 * `reclm train`'s job, run in a child process by the engine's runner (src/engine/child.ts): a ggml abort kills the
 * child and becomes RECLM_ERR_ENGINE_CRASH in the parent instead of taking the CLI down without a message.
 * Input and output are plain JSON-able objects (they cross IPC).
 */
import { fileURLToPath } from "node:url";
import type { ChildJob } from "../../engine/index.ts";
import { loadDataset, type DataFiles } from "../../data/index.ts";
import { getNeuralModel } from "../registry.ts";
import { runReport, trainModel } from "./trainer.ts";

export interface TrainJobInput {
  model: string;
  dataset: string;
  protocol?: string;
  /** Where the dataset's files are (custom data: interactions/items files). */
  dataFiles?: DataFiles;
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

/** runReport(...) of the finished run (report.json's content). */
export type TrainJobOutput = Record<string, unknown>;

/** Absolute path of this module, for runInChild. */
export const TRAIN_JOB_MODULE = fileURLToPath(import.meta.url);

const job: ChildJob<TrainJobInput, TrainJobOutput> = async (input, ctx) => {
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
    return runReport(res, def.reference, res.recommender.store.size, res.recommender.engine.threads);
  } finally {
    res.recommender.dispose();
  }
};

export default job;
