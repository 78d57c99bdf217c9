/**
 * The ground floor: types every layer shares. Layers point one way:
 *   cli -> serve -> methods -> llm / models / eval -> engine / data -> contracts, errors
 * so eval and serve never import a method, and the engine never imports anything about recommendation.
 */

/** Dense item id: 1..catalog.size. 0 is the padding id and never a real item. */
export type ItemId = number;

/** What reclm knows about one item. `title` is what prompts show; `text` and `attributes` feed item encoders. */
export interface ItemInfo {
  /** The id in the source data (MovieLens movieId, Amazon ASIN, the user's own id). */
  rawId: string;
  title: string;
  /** Free text beyond the title (description, tags), when the source has it. */
  text?: string;
  /** Structured attributes: genres, category, brand, year... */
  attributes?: Record<string, string | string[]>;
}

/** Items indexed by dense id. `items[0]` is a placeholder for padding; real items are `items[1..size]`. */
export interface Catalog {
  readonly size: number;
  readonly items: readonly ItemInfo[];
}

/**
 * A prepared sequential dataset under a named protocol, split leave-one-out:
 * per user (index u), `train[u]` is chronological, `val[u]` the second-last item, `test[u]` the last.
 * Validation input history is `train[u]`; test input history is `train[u] + val[u]`.
 */
export interface SequenceDataset {
  /** Registry name, e.g. "ml-latest-small", "ml-1m", "beauty", "embedded". */
  readonly name: string;
  /** Protocol that produced the split, e.g. "llamarec", "lrurec", "lrurec-preprocessed". Every number reclm prints carries it. */
  readonly protocol: string;
  readonly catalog: Catalog;
  /** Raw user ids; index = user index u (0-based). */
  readonly users: readonly string[];
  readonly train: readonly Int32Array[];
  readonly val: Int32Array;
  readonly test: Int32Array;
  /**
   * Your own data with an items file that gives some interaction items no title (an id written two ways, a partial
   * export): they show their raw id as title, and protocol "llamarec" drops their rows. `reclm data stats` prints it.
   */
  readonly untitledItems?: UntitledItems;
}

/** How many interaction items have no title in the items file, and a few of their raw ids. */
export interface UntitledItems {
  count: number;
  examples: string[];
}

export type EvalSplit = "val" | "test";

/** Progress report for long work; `done`/`total` in units of `unit`. */
export interface Progress {
  stage: string;
  done: number;
  total: number;
  unit?: string;
  /** Extra live values for the bar, e.g. { loss: 3.21, "R@10": 0.12 }. */
  info?: Record<string, number | string>;
}

export interface LongWorkOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * RecBole's full_sort_predict, typed: any model that scores every item for a history.
 * Eval masks seen items itself, identically for every model.
 */
export interface SequentialRecommender {
  /** Registry name, e.g. "lrurec", "sasrec", "pop". */
  readonly name: string;
  /** Catalog size N; score rows have N + 1 columns (column 0 = padding, ignored). */
  readonly nItems: number;
  /**
   * How many of a history's last items evaluation masks by default: the model's input window where its protocol says
   * so (the papers' code masks the ids of its input `seqs`), undefined for the whole history.
   */
  readonly maskWindow?: number;
  /**
   * How many of a history's last items the model reads at most (a trained model's maxLen, cooc's voting window);
   * undefined where the model declares none. Older items cannot change its scores: the service says when it drops them.
   */
  readonly inputWindow?: number;
  /**
   * Scores for B histories: a row-major [B x (N + 1)] array; column i is item i's score.
   * Histories are chronological, without padding; a model cuts them to its own window.
   */
  scoreAll(histories: readonly Int32Array[]): Promise<Float32Array>;
  /**
   * Optional: each history's best k items straight from an approximate nearest-neighbour index (src/models/ann.ts),
   * best first, without a score per catalogue item; `exclude[b]` lists items never to return (the masked history).
   * Retrieval and the service use it when present; evaluation always ranks with scoreAll.
   */
  topK?(histories: readonly Int32Array[], k: number, exclude: readonly Int32Array[]): Promise<{ items: Int32Array; scores: Float32Array }[]>;
  /**
   * Optional: prepares everything a call over up to `maxBatch` histories needs (a trained model compiles a graph per
   * batch shape), so the first request after a server says it is ready does not pay for it.
   */
  warmUp?(maxBatch: number): Promise<void>;
  dispose?(): void | Promise<void>;
}

/** Re-ranks a short candidate list (LlamaRec's verbalizer, grounded LLaRA/GenRec). Scores align with `candidates`. */
export interface Ranker {
  readonly name: string;
  rank(history: Int32Array, candidates: Int32Array): Promise<Float32Array>;
  dispose?(): void | Promise<void>;
}

export interface Recommendation {
  item: ItemId;
  score: number;
}

export interface RecommendOptions {
  k: number;
  /** Exclude the history's items from the answer. Defaults to true. */
  excludeSeen?: boolean;
}

/** What `serve` and `eval` consume: a bare retriever, or retrieve-then-rank. */
export interface Recommender {
  readonly name: string;
  recommend(history: Int32Array, options: RecommendOptions): Promise<Recommendation[]>;
  dispose?(): void | Promise<void>;
}
