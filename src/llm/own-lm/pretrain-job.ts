/**
 * `reclm lm pretrain` (and the fine-tuning commands that need an LM first) run the pretraining in a child process:
 * a ggml abort becomes a clear error instead of a dead CLI. Input and output cross IPC as plain data.
 */
import { fileURLToPath } from "node:url";
import { runInChild, type ChildJob, type RunInChildOptions } from "../../engine/index.ts";
import { loadDataset } from "../../data/index.ts";
import { pretrainLm, type LmSize, type PretrainReport } from "./pretrain.ts";

export interface PretrainJobInput {
  dataset: string;
  protocol?: string;
  dataFiles?: { dataDir?: string; interactions?: string; items?: string };
  size?: LmSize;
  outDir: string;
  config?: Record<string, unknown>;
  configSource?: string;
  resume?: boolean;
  overwrite?: boolean;
  maxSteps?: number;
  threads?: number;
}

const job: ChildJob<PretrainJobInput, PretrainReport> = async (input, ctx) => {
  const ds = await loadDataset(input.dataset, { ...input.dataFiles, protocol: input.protocol, onProgress: (p) => ctx.progress(p) });
  const { dataset: _d, protocol: _p, dataFiles: _f, ...rest } = input;
  return pretrainLm({ ...rest, ds, onProgress: (p) => ctx.progress(p) });
};

export default job;

/** Pretrains reclm's own LM in a child process. */
export function pretrainLmInChild(input: PretrainJobInput, options: RunInChildOptions = {}): Promise<PretrainReport> {
  return runInChild<PretrainJobInput, PretrainReport>(fileURLToPath(import.meta.url), input, options);
}
