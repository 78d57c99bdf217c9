/**
 * Top-k retrieval for catalogs of a million items: an approximate nearest-neighbour index (usearch's HNSW, inner
 * product) over a trained retriever's item vectors, built after training and saved in its run dir (ann.usearch +
 * ann.json). Item i's vector is [W_i, b_i] and a history's query [h, 1] (NeuralRecommender.itemVectors /
 * queryVectors), so the inner product IS the model's score: the index changes which items are looked at, never a
 * score. Exact full ranking (scoreAll + topK) stays the reference: evaluation always uses it, and the tests and
 * bench/ann.ts measure the index's recall against it.
 *
 * When it is used: `resolveModel` wraps a run dir's model in an AnnRecommender when the run dir has an index and
 * the catalog has at least `ANN_MIN_ITEMS` items (below that, scoring every item costs about a millisecond and is
 * exact); `reclm retrieve`, `reclm recommend` and the service then take its top-k. `reclm index <run dir>` builds
 * (or rebuilds) the index of a run dir by hand, with other HNSW settings if wanted.
 * Only importer of `usearch`.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Index, MetricKind, ScalarKind } from "usearch";
import type { SequentialRecommender } from "../contracts.ts";
import { NativeResource } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import { sha256File, writeFileAtomicWith, writeJsonAtomic } from "../io.ts";
import { MODEL_FILE, type NeuralRecommender } from "./neural/recommender.ts";

export const ANN_INDEX_FILE = "ann.usearch";
export const ANN_META_FILE = "ann.json";
/** Catalogs from this size on retrieve through the index when their run dir has one. */
export const ANN_MIN_ITEMS = 100_000;

/** HNSW settings: more connectivity and expansion find more of the true top-k and cost build and query time. */
export interface AnnSettings {
  /** Links per node (HNSW's M). */
  connectivity: number;
  /** Candidates kept while inserting (efConstruction). */
  expansionAdd: number;
  /** Candidates kept while searching (ef); at least k is used. */
  expansionSearch: number;
}

/**
 * expansionSearch 768: on 1M random 64-d vectors (HNSW's hardest case) it finds 96.8% of the exact top-20 at p99 7.8 ms
 * per query on one thread, where 256 found 82% at 3.0 ms and 512 93% at 6.0 ms (bench/results/ann.json); an index
 * serves catalogs of 100k items and more, where a silent fifth of the top-20 lost costs more than 5 ms. A trained
 * model's item vectors are easier (ML-1M: 98.9% at 256). `reclm index --expansion-search` sets another.
 */
export const DEFAULT_ANN_SETTINGS: AnnSettings = { connectivity: 32, expansionAdd: 256, expansionSearch: 768 };

/** ann.json: what the index was built from, so a retrained model never meets an old index. */
export interface AnnMeta {
  format: "reclm-ann@1";
  nItems: number;
  dim: number;
  metric: "ip";
  settings: AnnSettings;
  /** sha256 of model.safetensors when the index was built. */
  modelSha256: string;
  buildSeconds: number;
}

/** An index over item vectors keyed by item id (1..N). */
export class ItemIndex {
  private constructor(
    private readonly index: Index,
    readonly meta: Omit<AnnMeta, "modelSha256" | "buildSeconds"> & Partial<Pick<AnnMeta, "modelSha256" | "buildSeconds">>,
  ) {}

  /** Builds an index over `vectors` ([N x dim], row k is item k + 1). */
  static build(vectors: Float32Array, dim: number, settings: Partial<AnnSettings> = {}, threads = 0): ItemIndex {
    const s = { ...DEFAULT_ANN_SETTINGS, ...settings };
    checkSettings(s);
    if (!Number.isInteger(dim) || dim < 1 || vectors.length % dim !== 0) throw new ReclmError("RECLM_ERR_SHAPE", `${vectors.length} values are not rows of ${dim}`, { field: "vectors" });
    const n = vectors.length / dim;
    const t0 = performance.now();
    const index = newIndex(dim, s);
    const keys = new BigUint64Array(n);
    for (let k = 0; k < n; k++) keys[k] = BigInt(k + 1);
    if (n > 0) index.add(keys, vectors, threads);
    return new ItemIndex(index, { format: "reclm-ann@1", nItems: n, dim, metric: "ip", settings: s, buildSeconds: (performance.now() - t0) / 1000 });
  }

  /** Reads ann.json + ann.usearch from a run dir, checking they belong to its model.safetensors. */
  static load(dir: string, settings: Partial<Pick<AnnSettings, "expansionSearch">> = {}): ItemIndex {
    const metaPath = join(dir, ANN_META_FILE);
    const indexPath = join(dir, ANN_INDEX_FILE);
    if (!existsSync(metaPath) || !existsSync(indexPath)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "the run dir has no approximate index (reclm index <run dir> builds one)", { file: indexPath });
    let meta: AnnMeta;
    try {
      meta = JSON.parse(readFileSync(metaPath, "utf8")) as AnnMeta;
    } catch (e) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `invalid JSON: ${(e as Error).message}`, { file: metaPath }, { cause: e });
    }
    if (meta.format !== "reclm-ann@1" || meta.metric !== "ip" || !Number.isInteger(meta.dim) || !Number.isInteger(meta.nItems)) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "not a reclm item index description", { file: metaPath, field: "format" });
    }
    const modelPath = join(dir, MODEL_FILE);
    if (existsSync(modelPath) && sha256File(modelPath) !== meta.modelSha256) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the index was built for another ${MODEL_FILE} (the model was retrained since): rebuild it with reclm index ${dir}`, { file: metaPath, field: "modelSha256" });
    }
    const s = { ...meta.settings, ...settings };
    checkSettings(s);
    const index = newIndex(meta.dim, s);
    try {
      index.load(indexPath);
    } catch (e) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `cannot read the index: ${(e as Error).message}`, { file: indexPath }, { cause: e });
    }
    if (index.size() !== meta.nItems || index.dimensions() !== meta.dim) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the index holds ${index.size()} vectors of ${index.dimensions()} values, ${ANN_META_FILE} says ${meta.nItems} of ${meta.dim}`, { file: indexPath });
    }
    return new ItemIndex(index, { ...meta, settings: s });
  }

  get size(): number {
    return this.meta.nItems;
  }

  /** Writes ann.usearch and ann.json into `dir`, atomically each; `modelSha256` ties them to the model file. */
  save(dir: string, modelSha256: string): void {
    writeFileAtomicWith(join(dir, ANN_INDEX_FILE), (tmp) => this.index.save(tmp));
    writeJsonAtomic(join(dir, ANN_META_FILE), { ...this.meta, buildSeconds: this.meta.buildSeconds ?? 0, modelSha256 } satisfies AnnMeta);
  }

  /**
   * The `k` items with the largest inner product with each query ([B x dim]), best first, leaving out the items of
   * `exclude[b]`. Returns the items and their inner products.
   */
  search(queries: Float32Array, k: number, exclude: readonly (ArrayLike<number> | undefined)[] = [], threads = 1): { items: Int32Array; scores: Float32Array }[] {
    const dim = this.meta.dim;
    const B = queries.length / dim;
    const out: { items: Int32Array; scores: Float32Array }[] = [];
    for (let b = 0; b < B; b++) {
      const q = queries.subarray(b * dim, (b + 1) * dim);
      const skip = new Set<number>(Array.from(exclude[b] ?? []));
      // Excluded items take places in the result: ask for enough to fill k after dropping them.
      let want = Math.min(this.size, k + skip.size);
      for (;;) {
        const m = this.index.search(q, want, threads);
        const items: number[] = [];
        const scores: number[] = [];
        for (let j = 0; j < m.keys.length && items.length < k; j++) {
          const item = Number(m.keys[j]);
          if (skip.has(item)) continue;
          items.push(item);
          scores.push(1 - m.distances[j]); // usearch's "ip" distance is 1 - q·v
        }
        if (items.length >= Math.min(k, this.size - skip.size) || want >= this.size) {
          out.push({ items: Int32Array.from(items), scores: Float32Array.from(scores) });
          break;
        }
        want = Math.min(this.size, want * 2);
      }
    }
    return out;
  }
}

function newIndex(dim: number, s: AnnSettings): Index {
  return new Index({
    dimensions: dim,
    metric: MetricKind.IP,
    quantization: ScalarKind.F32,
    connectivity: s.connectivity,
    expansion_add: s.expansionAdd,
    expansion_search: s.expansionSearch,
    multi: false,
  });
}

function checkSettings(s: AnnSettings): void {
  for (const key of ["connectivity", "expansionAdd", "expansionSearch"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 2 || s[key] > 4096) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${key} must be an integer in 2..4096, got ${s[key]}`, { field: key });
  }
}

/** Builds the index of a trained model and saves it in its run dir (next to its model.safetensors). */
export function buildRunIndex(model: NeuralRecommender, dir: string, settings: Partial<AnnSettings> = {}, threads = 0): ItemIndex {
  const modelPath = join(dir, MODEL_FILE);
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "no trained model in the run dir", { file: modelPath });
  const { vectors, dim } = model.itemVectors();
  const index = ItemIndex.build(vectors, dim, settings, threads);
  index.save(dir, sha256File(modelPath));
  return index;
}

/**
 * A trained retriever whose top-k comes from its item index; scoreAll (evaluation) stays exact. Histories are cut to
 * the model's input window by queryVectors, as scoreAll cuts them. It owns the model: disposing it frees the model's
 * native memory (the usearch index is freed by its own finalizer).
 */
export class AnnRecommender extends NativeResource implements SequentialRecommender {
  readonly name: string;
  readonly nItems: number;
  readonly maskWindow?: number;
  readonly inputWindow?: number;

  constructor(
    readonly model: NeuralRecommender,
    readonly index: ItemIndex,
  ) {
    super();
    if (index.size !== model.nItems) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the index holds ${index.size} items, the model ${model.nItems}`, { field: "nItems" });
    this.name = model.name;
    this.nItems = model.nItems;
    this.maskWindow = model.maskWindow;
    this.inputWindow = model.inputWindow;
  }

  scoreAll(histories: readonly Int32Array[]): Promise<Float32Array> {
    return this.model.scoreAll(histories);
  }

  /** Top-k goes through the query graphs; scoreAll's are compiled on first use (evaluation, not serving). */
  warmUp(maxRows: number): Promise<void> {
    return this.model.warmUp(maxRows, { graphs: "query" });
  }

  async topK(histories: readonly Int32Array[], k: number, exclude: readonly Int32Array[]): Promise<{ items: Int32Array; scores: Float32Array }[]> {
    const { vectors } = this.model.queryVectors(histories);
    return this.index.search(vectors, k, exclude);
  }

  protected free(): void {
    this.model.dispose();
  }
}
