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
 * @module datasets
 */
export { listDatasets, loadDataset } from "../data/index.ts";
export type { DatasetInfo, LoadDatasetOptions } from "../data/index.ts";
export { datasetStats, historyFor, splitFingerprint } from "../data/stats.ts";
export type { DatasetStats } from "../data/stats.ts";
export { cleanAmazonTitle, cleanMovieLensTitle, decodeHtmlEntities } from "../data/protocols/titles.ts";
export { CatalogLookup, normalizeTitle } from "../data/catalog-lookup.ts";
export { cacheDir, sharedDir } from "../paths.ts";
