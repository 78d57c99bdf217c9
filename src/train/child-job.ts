/**
 * What every training run in a run dir takes (a retriever, reclm's own LM, LlamaRec's ranker), and the child-process
 * job such a run is: the dataset crosses the process boundary by name (`DatasetRef`), is loaded in the child with its
 * progress reported, and the run gets the rest of the input.
 */
import type { Progress, SequenceDataset } from "../contracts.ts";
import { loadDataset, type DataFiles } from "../data/index.ts";
import type { ChildJob } from "../engine/index.ts";

export interface RunDirOptions {
  /** The run dir: config, checkpoints, training curves, the trained model, the report. */
  outDir: string;
  /** Fields over the defaults or the recipe (unknown or ill-typed fields are refused, naming the field). */
  config?: Record<string, unknown>;
  /** Where `config` came from, for error messages ("config.json", "--set"). */
  configSource?: string;
  /** Continue the run in `outDir` from its checkpoint. */
  resume?: boolean;
  /** Start over in an `outDir` that already holds a run (that run's files are deleted first). */
  overwrite?: boolean;
  /** Stop after this many optimizer steps in total (steps before a resume included). */
  maxSteps?: number;
  /** ggml CPU threads. */
  threads?: number;
}

/** A dataset by name, as it crosses into a child process (a loaded one would be copied). */
export interface DatasetRef {
  /** A name `loadDataset` knows. */
  dataset: string;
  protocol?: string;
  /** Where the dataset's files are (custom data: its interactions and items files or a split dir) and the memory preparing it may take. */
  dataFiles?: DataFiles;
}

/** A child job over a dataset named by reference: loads it in the child, then runs `train` with the rest of the input. */
export function datasetJob<I extends DatasetRef, O>(train: (ds: SequenceDataset, rest: Omit<I, keyof DatasetRef>, onProgress: (p: Progress) => void) => Promise<O>): ChildJob<I, O> {
  return async (input, ctx) => {
    const onProgress = (p: Progress) => ctx.progress(p);
    const { dataset, protocol, dataFiles, ...rest } = input;
    const ds = await loadDataset(dataset, { ...dataFiles, protocol, onProgress });
    return train(ds, rest, onProgress);
  };
}
