/**
 * `reclm lm pretrain` (and the fine-tuning commands that need an LM first) run the pretraining in a child process:
 * a ggml abort becomes a clear error instead of a dead CLI. Input and output cross IPC as plain data.
 */
import { fileURLToPath } from "node:url";
import { runInChild, type ChildJob, type RunInChildOptions } from "../../engine/index.ts";
import type { LongWorkOptions } from "../../contracts.ts";
import { loadDatasetRef, type DatasetRef } from "../../data/index.ts";
import { pretrainLm, type PretrainOptions, type PretrainReport } from "./pretrain.ts";

export type PretrainJobInput = DatasetRef & Omit<PretrainOptions, "ds" | keyof LongWorkOptions>;

const job: ChildJob<PretrainJobInput, PretrainReport> = async (input, ctx) => {
  const { dataset: _d, protocol: _p, dataFiles: _f, ...rest } = input;
  return pretrainLm({ ...rest, ds: await loadDatasetRef(input, { onProgress: (p) => ctx.progress(p) }), onProgress: (p) => ctx.progress(p) });
};

export default job;

/** Pretrains reclm's own LM in a child process. */
export function pretrainLmInChild(input: PretrainJobInput, options: RunInChildOptions = {}): Promise<PretrainReport> {
  return runInChild<PretrainJobInput, PretrainReport>(fileURLToPath(import.meta.url), input, options);
}
