/**
 * `reclm finetune llamarec` runs in a child process (a ggml abort becomes a clear error, not a dead CLI).
 */
import { fileURLToPath } from "node:url";
import { runInChild, type ChildJob, type RunInChildOptions } from "../../engine/index.ts";
import { loadDataset } from "../../data/index.ts";
import { finetuneLlamaRec, type LlamaRecFinetuneReport } from "./run.ts";

export interface FinetuneJobInput {
  dataset: string;
  protocol?: string;
  dataFiles?: { dataDir?: string; interactions?: string; items?: string };
  retriever: string;
  llm: string;
  outDir: string;
  config?: Record<string, unknown>;
  configSource?: string;
  resume?: boolean;
  overwrite?: boolean;
  maxSteps?: number;
  threads?: number;
  layout?: "alpaca" | "chat";
}

const job: ChildJob<FinetuneJobInput, LlamaRecFinetuneReport> = async (input, ctx) => {
  const ds = await loadDataset(input.dataset, { ...input.dataFiles, protocol: input.protocol, onProgress: (p) => ctx.progress(p) });
  const { dataset: _d, protocol: _p, dataFiles: _f, ...rest } = input;
  return finetuneLlamaRec({ ...rest, ds, onProgress: (p) => ctx.progress(p) });
};

export default job;

/** Fine-tunes LlamaRec's ranker in a child process. */
export function finetuneLlamaRecInChild(input: FinetuneJobInput, options: RunInChildOptions = {}): Promise<LlamaRecFinetuneReport> {
  return runInChild<FinetuneJobInput, LlamaRecFinetuneReport>(fileURLToPath(import.meta.url), input, options);
}
