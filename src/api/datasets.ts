/**
 * Datasets: load one by name under a data protocol (or your own interactions file as `"custom"`), list what is
 * available, and describe it. A loaded `SequenceDataset` is already split leave-one-out (train / validation / test
 * per user) with dense item ids 1..N; it is cached once under `cacheDir()` and re-read in milliseconds.
 *
 * ```ts
 * import { loadDataset, datasetStats } from "reclm";
 * const ds = await loadDataset("embedded");                       // ships with reclm, no download
 * const mine = await loadDataset("custom", { interactions: "logs.csv", items: "items.jsonl", protocol: "lrurec" });
 * console.log(datasetStats(mine));                                 // users, items, interactions, avg length, density
 * ```
 *
 * Your logs are read and prepared by DuckDB with the protocols as published SQL (CSV/TSV/JSONL, `.gz`, Parquet;
 * `memoryLimit` bounds it, `parseMemoryLimit("8GB")`), or a split a cluster already made with that SQL is read
 * from `splitDir`. `writeSyntheticLog` writes a seeded log of any size to try it on.
 * @module datasets
 */
export { listDatasets, loadDataset } from "../data/index.ts";
export type { DataFiles, DatasetInfo, LoadDatasetOptions } from "../data/index.ts";
export { parseMemoryLimit } from "../data/duck/memory.ts";
export { writeSyntheticLog } from "../data/synthetic-log.ts";
export type { SyntheticLogInfo, SyntheticLogOptions } from "../data/synthetic-log.ts";
export { datasetStats, historyFor, splitFingerprint } from "../data/stats.ts";
export type { DatasetStats } from "../data/stats.ts";
export { cleanAmazonTitle, cleanMovieLensTitle, decodeHtmlEntities } from "../data/protocols/titles.ts";
export { CatalogLookup, normalizeTitle } from "../data/catalog-lookup.ts";
export { cacheDir, sharedDir } from "../paths.ts";
