/**
 * The data layer's public API: load a named dataset under a named protocol, list datasets, stats, histories.
 * See protocols/README.md for what each protocol does and embedded/README.md for the synthetic dataset.
 */
import { join, resolve } from "node:path";
import type { LongWorkOptions, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { cacheDir as defaultCacheDir, sharedDir } from "../paths.ts";
import { cacheKey, cachePath, readCachedDataset, writeCachedDataset } from "./cache.ts";
import { DATASETS, findDataset, type BuildContext, type DatasetDef } from "./registry.ts";
import { recordDataFiles, type DatasetFiles } from "./dataset-files.ts";

export { dataFilesOf, type DatasetFiles } from "./dataset-files.ts";
export { datasetStats, historyFor, splitFingerprint, type DatasetStats } from "./stats.ts";
export { cleanMovieLensTitle, cleanAmazonTitle, decodeHtmlEntities } from "./protocols/titles.ts";

/** Where a dataset's files are and how much memory preparing it may take (plain data: it crosses IPC to training jobs). */
export interface DataFiles {
  /** Where the raw files are; default <sharedDir()>/data/<folder>; required for "custom". */
  dataDir?: string;
  /** custom: path to a CSV/TSV/JSONL (optionally .gz) or Parquet interactions file. */
  interactions?: string;
  /** custom: path to a CSV/JSONL items file. */
  items?: string;
  /** custom: a directory of Parquet files with a split a cluster made with the published SQL (protocols/sql). */
  splitDir?: string;
  /** Bytes DuckDB and the prepared arrays may use (default: $RECLM_MEMORY_LIMIT, else 80% of the machine's memory). */
  memoryLimit?: number;
}

export interface LoadDatasetOptions extends LongWorkOptions, DataFiles {
  /** Default: the dataset's default protocol. */
  protocol?: string;
  /** Default: cacheDir()/datasets. */
  cacheDir?: string;
  /** Ignore (and overwrite) the cache. */
  refresh?: boolean;
}

export interface DatasetInfo {
  name: string;
  description: string;
  protocols: string[];
  defaultProtocol: string;
  available: boolean;
  source: string;
}

function defaultDataDir(def: DatasetDef): string | undefined {
  if (!def.folder) return undefined;
  const root = sharedDir();
  return root ? join(root, "data", def.folder) : undefined;
}

export function listDatasets(): DatasetInfo[] {
  return DATASETS.map((d) => {
    const dir = defaultDataDir(d);
    return {
      name: d.name,
      description: d.description,
      protocols: [...d.protocols],
      defaultProtocol: d.defaultProtocol(dir),
      available: d.available(dir),
      source: d.source,
    };
  });
}

export async function loadDataset(name: string, options: LoadDatasetOptions = {}): Promise<SequenceDataset> {
  const ds = await loadDatasetUnrecorded(name, options);
  if (name === "custom") {
    const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
    const files: DatasetFiles = { interactions: abs(options.interactions), items: abs(options.items), splitDir: abs(options.splitDir) };
    recordDataFiles(ds, Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)) as DatasetFiles);
  }
  return ds;
}

async function loadDatasetUnrecorded(name: string, options: LoadDatasetOptions): Promise<SequenceDataset> {
  const def = findDataset(name);
  if (!def) {
    const known = DATASETS.map((d) => d.name).join(", ");
    throw new ReclmError("RECLM_ERR_UNKNOWN_DATASET", `unknown dataset "${name}" (known: ${known})`);
  }
  // Files given for a dataset that does not read them would be ignored and another dataset loaded in their place.
  if (name !== "custom" && (options.interactions !== undefined || options.items !== undefined || options.splitDir !== undefined)) {
    const field = options.interactions !== undefined ? "interactions" : options.items !== undefined ? "items" : "splitDir";
    throw new ReclmError(
      "RECLM_ERR_BAD_CONFIG",
      `the interactions/items files and split directories are your own data: load them as dataset "custom", not "${name}"`,
      { field, file: options.interactions ?? options.items ?? options.splitDir },
    );
  }
  if (options.dataDir !== undefined && !def.folder) {
    const use = name === "custom" ? "it reads the interactions/items files" : "it has no raw files";
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `dataset "${name}" takes no data folder (${use})`, { field: "dataDir", file: options.dataDir });
  }
  const dataDir = options.dataDir ?? defaultDataDir(def);
  const protocol = options.protocol ?? def.defaultProtocol(dataDir);
  // A split made elsewhere carries its protocol (checked against the one given, if any) and may name any.
  if (options.splitDir === undefined && !def.protocols.includes(protocol)) {
    throw new ReclmError(
      "RECLM_ERR_BAD_CONFIG",
      `dataset "${name}" has no protocol "${protocol}" (available: ${def.protocols.join(", ")})`,
    );
  }
  options.signal?.throwIfAborted();
  const ctx: BuildContext = {
    dataDir,
    interactions: options.interactions,
    items: options.items,
    splitDir: options.splitDir,
    duck: options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : undefined,
    protocolGiven: options.protocol !== undefined,
    onProgress: options.onProgress,
    signal: options.signal,
  };
  const files = def.inputFiles(protocol, ctx);
  if (files.length === 0) return def.build(protocol, ctx);

  const dir = options.cacheDir ?? join(defaultCacheDir(), "datasets");
  const cacheProtocol = options.splitDir !== undefined ? (options.protocol ?? "split") : protocol;
  const key = cacheKey(files, { name, protocol: cacheProtocol, ...(options.splitDir !== undefined ? { splitDir: true } : {}) });
  const path = cachePath(dir, name, cacheProtocol, key);
  if (!options.refresh) {
    const cached = readCachedDataset(path);
    if (cached) return cached;
  }
  const ds = await def.build(protocol, ctx);
  options.signal?.throwIfAborted();
  writeCachedDataset(path, dir, ds);
  return ds;
}
