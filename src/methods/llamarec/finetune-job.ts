/**
 * `reclm finetune llamarec` runs in a child process (a ggml abort becomes a clear error, not a dead CLI).
 */
import { fileURLToPath } from "node:url";
import { runInChild, type RunInChildOptions } from "../../engine/index.ts";
import { datasetJob, type DatasetRef } from "../../train/child-job.ts";
import { finetuneLlamaRec, type FinetuneLlamaRecOptions, type LlamaRecFinetuneReport } from "./run.ts";

export interface FinetuneJobInput extends DatasetRef, Omit<FinetuneLlamaRecOptions, "ds" | "onProgress" | "signal"> {}

export default datasetJob<FinetuneJobInput, LlamaRecFinetuneReport>((ds, rest, onProgress) => finetuneLlamaRec({ ...rest, ds, onProgress }));

/** Fine-tunes LlamaRec's ranker in a child process. */
export function finetuneLlamaRecInChild(input: FinetuneJobInput, options: RunInChildOptions = {}): Promise<LlamaRecFinetuneReport> {
  return runInChild<FinetuneJobInput, LlamaRecFinetuneReport>(fileURLToPath(import.meta.url), input, options);
}
