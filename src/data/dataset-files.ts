/**
 * Which of the user's own files a loaded "custom" dataset came from. A run dir records them (config.json `dataFiles`)
 * so that a command given only the run dir can load the same data again; the split fingerprint the run also records
 * refuses the files if they changed since.
 */
import type { SequenceDataset } from "../contracts.ts";

/** Absolute paths of a custom dataset's inputs (those it was given). */
export interface DatasetFiles {
  interactions?: string;
  items?: string;
  splitDir?: string;
}

const filesOfDataset = new WeakMap<SequenceDataset, DatasetFiles>();

export function recordDataFiles(ds: SequenceDataset, files: DatasetFiles): void {
  filesOfDataset.set(ds, files);
}

/** The files a "custom" dataset was loaded from by `loadDataset`; undefined for named datasets. */
export function dataFilesOf(ds: SequenceDataset): DatasetFiles | undefined {
  return filesOfDataset.get(ds);
}
