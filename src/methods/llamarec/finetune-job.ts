/**
 * `reclm finetune llamarec` runs in a child process (a ggml abort becomes a clear error, not a dead CLI).
 */
import { fileURLToPath } from "node:url";
import { runInChild, type ChildJob, type RunInChildOptions } from "../../engine/index.ts";
import type { LongWorkOptions } from "../../contracts.ts";
import { loadDatasetRef, type DatasetRef } from "../../data/index.ts";
import { finetuneLlamaRec, type FinetuneLlamaRecOptions, type LlamaRecFinetuneReport } from "./run.ts";

export type FinetuneJobInput = DatasetRef & Omit<FinetuneLlamaRecOptions, "ds" | keyof LongWorkOptions>;

const job: ChildJob<FinetuneJobInput, LlamaRecFinetuneReport> = async (input, ctx) => {
  const { dataset: _d, protocol: _p, dataFiles: _f, ...rest } = input;
  return finetuneLlamaRec({ ...rest, ds: await loadDatasetRef(input, { onProgress: (p) => ctx.progress(p) }), onProgress: (p) => ctx.progress(p) });
};

export default job;

/** Fine-tunes LlamaRec's ranker in a child process. */
export function finetuneLlamaRecInChild(input: FinetuneJobInput, options: RunInChildOptions = {}): Promise<LlamaRecFinetuneReport> {
  return runInChild<FinetuneJobInput, LlamaRecFinetuneReport>(fileURLToPath(import.meta.url), input, options);
}
