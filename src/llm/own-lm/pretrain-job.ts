/**
 * `reclm lm pretrain` (and the fine-tuning commands that need an LM first) run the pretraining in a child process:
 * a ggml abort becomes a clear error instead of a dead CLI. Input and output cross IPC as plain data.
 */
import { fileURLToPath } from "node:url";
import { runInChild, type RunInChildOptions } from "../../engine/index.ts";
import { datasetJob, type DatasetRef, type RunDirOptions } from "../../train/child-job.ts";
import { pretrainLm, type LmSize, type PretrainReport } from "./pretrain.ts";

export interface PretrainJobInput extends DatasetRef, RunDirOptions {
  size?: LmSize;
}

export default datasetJob<PretrainJobInput, PretrainReport>((ds, rest, onProgress) => pretrainLm({ ...rest, ds, onProgress }));

/** Pretrains reclm's own LM in a child process. */
export function pretrainLmInChild(input: PretrainJobInput, options: RunInChildOptions = {}): Promise<PretrainReport> {
  return runInChild<PretrainJobInput, PretrainReport>(fileURLToPath(import.meta.url), input, options);
}
