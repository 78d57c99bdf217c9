/**
 * The dataset registry: for each name, where its files live, which protocols it supports, and how to build a
 * SequenceDataset from them. `loadDataset` (index.ts) adds the cache around `build`.
 */
import type { LongWorkOptions, SequenceDataset } from "../contracts.ts";
import { buildEmbedded } from "./embedded/index.ts";

export interface BuildContext extends LongWorkOptions {
  dataDir: string | undefined;
  interactions?: string;
  items?: string;
}

export interface DatasetDef {
  name: string;
  description: string;
  /** Folder under <shared>/data, when the dataset lives there. */
  folder?: string;
  source: string;
  protocols: string[];
  /** The default can depend on which files exist (ml-1m: raw ratings.dat vs LRURec's preprocessed split). */
  defaultProtocol(dataDir: string | undefined): string;
  /** Whether the files for the default protocol are present. */
  available(dataDir: string | undefined): boolean;
  /** Files whose size/mtime key the cache; none means the dataset is not cached (built in memory). */
  inputFiles(protocol: string, ctx: BuildContext): string[];
  build(protocol: string, ctx: BuildContext): Promise<SequenceDataset> | SequenceDataset;
}

const embedded: DatasetDef = {
  name: "embedded",
  description: "Synthetic movie-like catalog (771 items, 1,500 users) generated from a seed; ships with reclm",
  source: "generated in src/data/embedded/generator.ts (no download)",
  protocols: ["embedded"],
  defaultProtocol: () => "embedded",
  available: () => true,
  inputFiles: () => [],
  build: () => buildEmbedded(),
};

export const DATASETS: DatasetDef[] = [embedded];

export function findDataset(name: string): DatasetDef | undefined {
  return DATASETS.find((d) => d.name === name);
}
