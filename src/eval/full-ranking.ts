/**
 * Full ranking (LRURec / LlamaRec retriever / Lite-LLM4Rec, anchors.md §1.3): every model scores the whole catalogue
 * for each user's input history; eval (not the model) masks padding and the history's items, identically for every
 * model, then ranks the single held-out positive among all items.
 */
import type { EvalSplit, LongWorkOptions, SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { checkSplit, inputHistory, resolveUsers, targetOf } from "./history.ts";
import { metricsFromRanks, ndcgAt, rankOfPositive, recallAt, validateKs, type Metrics } from "./metrics.ts";

export const DEFAULT_KS: readonly number[] = [5, 10, 20];

export interface FullRankingOptions extends LongWorkOptions {
  split?: EvalSplit;
  ks?: readonly number[];
  /** Users scored per `scoreAll` call. Defaults to 64. */
  batchSize?: number;
  /**
   * Set the history's items to -Infinity before ranking (LlamaRec's trainer does, also when the target is among them,
   * which then ranks last). Defaults to true.
   */
  maskHistory?: boolean;
  /**
   * Mask only the last `maskWindow` items of the history: the items a model with that input window sees. LlamaRec's
   * and LRURec's trainers mask exactly those (`calculate_metrics` masks the ids of the input `seqs`, its last max_len
   * items), so older items of a longer history stay rankable there. Infinity masks the whole history. Defaults to
   * the model's own `maskWindow`, else the whole history.
   */
  maskWindow?: number;
  /** User indices to evaluate; defaults to all users in order. */
  users?: ArrayLike<number>;
}

/** A protocol's result: its name, per-user ranks (for significance tests and subsets) and the per-user-mean metrics. */
export interface RankingReport {
  /** Evaluation protocol, as bench-results.md spells it: "full-ranking", "llamarec-subset", ... */
  protocol: string;
  model: string;
  dataset: string;
  /** The data protocol that produced the split ("llamarec", "lrurec", ...). */
  datasetProtocol: string;
  split: EvalSplit;
  ks: number[];
  nUsers: number;
  /** User indices, aligned with `ranks`. */
  users: Int32Array;
  /** 1-based pessimistic rank of each user's positive. */
  ranks: Int32Array;
  metrics: Metrics;
}

interface ScoredBatch {
  users: Int32Array;
  /** [B x (N+1)], history masked when asked. */
  scores: Float32Array;
  targets: Int32Array;
}

/** Scores users in batches, checks shape and NaNs, masks padding and history. Yields one batch at a time. */
async function* scoreBatches(
  model: SequentialRecommender,
  ds: SequenceDataset,
  split: EvalSplit,
  users: Int32Array,
  batchSize: number,
  maskHistory: boolean,
  options: LongWorkOptions & { maskWindow?: number },
): AsyncGenerator<ScoredBatch> {
  const n = ds.catalog.size;
  if (model.nItems !== n) {
    throw new ReclmError(
      "RECLM_ERR_SHAPE",
      `model "${model.name}" scores ${model.nItems} items but dataset "${ds.name}" has ${n}`,
      { field: "nItems" },
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `batch size must be a positive integer, got ${batchSize}`, { field: "batchSize" });
  }
  const window = options.maskWindow ?? model.maskWindow;
  if (window !== undefined && window !== Infinity && !(Number.isInteger(window) && window >= 1)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `mask window must be a positive integer, got ${window}`, { field: "maskWindow" });
  }
  const width = n + 1;
  for (let start = 0; start < users.length; start += batchSize) {
    options.signal?.throwIfAborted();
    const batchUsers = users.subarray(start, Math.min(users.length, start + batchSize));
    const histories = Array.from(batchUsers, (u) => inputHistory(ds, u, split));
    const scores = await model.scoreAll(histories);
    if (scores.length !== batchUsers.length * width) {
      throw new ReclmError(
        "RECLM_ERR_SHAPE",
        `model "${model.name}" returned ${scores.length} scores for ${batchUsers.length} histories; expected ${batchUsers.length} x ${width}`,
        { field: "scoreAll" },
      );
    }
    // Masks in place: a model must return a fresh array per call (or one it does not read back).
    for (let b = 0; b < batchUsers.length; b++) {
      const row = b * width;
      scores[row] = -Infinity;
      if (!maskHistory) continue;
      const h = histories[b];
      for (const item of window === undefined || window >= h.length ? h : h.subarray(h.length - window)) scores[row + item] = -Infinity;
    }
    const targets = Int32Array.from(batchUsers, (u) => targetOf(ds, u, split));
    yield { users: batchUsers, scores, targets };
  }
}

function rankInRow(scores: Float32Array, row: number, width: number, target: number, where: string): number {
  // Column 0 (padding) is already -Infinity; scanning only 1..N keeps it out of the count entirely.
  const view = scores.subarray(row * width, (row + 1) * width);
  return rankOfPositive(view, target, { from: 1, where });
}

export async function fullRanking(
  model: SequentialRecommender,
  ds: SequenceDataset,
  options: FullRankingOptions = {},
): Promise<RankingReport> {
  const split = checkSplit(options.split ?? "test");
  const ks = [...(options.ks ?? DEFAULT_KS)];
  validateKs(ks);
  const users = resolveUsers(ds, options.users);
  const ranks = new Int32Array(users.length);
  const width = ds.catalog.size + 1;
  // Live info for progress bars: the running Recall/NDCG at the k users look at most (10 when asked for).
  const liveK = ks.includes(10) ? 10 : ks[0];
  let hits = 0;
  let ndcg = 0;
  let i = 0;
  for await (const batch of scoreBatches(model, ds, split, users, options.batchSize ?? 64, options.maskHistory ?? true, options)) {
    for (let b = 0; b < batch.users.length; b++) {
      const rank = rankInRow(batch.scores, b, width, batch.targets[b], `scores of user ${ds.users[batch.users[b]]}`);
      ranks[i++] = rank;
      hits += recallAt(rank, liveK);
      ndcg += ndcgAt(rank, liveK);
    }
    options.onProgress?.({
      stage: "full-ranking",
      done: i,
      total: users.length,
      unit: "users",
      info: { [`R@${liveK}`]: hits / i, [`N@${liveK}`]: ndcg / i },
    });
  }
  return {
    protocol: "full-ranking",
    model: model.name,
    dataset: ds.name,
    datasetProtocol: ds.protocol,
    split,
    ks,
    nUsers: users.length,
    users,
    ranks,
    metrics: metricsFromRanks(ranks, ks),
  };
}

/** Per-user top-k of a retriever, in score order, history masked; with the positive's full-ranking rank. */
export interface Retrieval {
  model: string;
  dataset: string;
  datasetProtocol: string;
  split: EvalSplit;
  k: number;
  users: Int32Array;
  /** Input history length of each user. */
  historyLengths: Int32Array;
  /** candidates[i]: item ids, best first (ties: lower id first). */
  candidates: Int32Array[];
  /** scores[i]: the retriever's scores, aligned with candidates[i]. */
  scores: Float32Array[];
  positives: Int32Array;
  /** 1-based pessimistic rank of the positive among all items (so retriever metrics come for free). */
  ranks: Int32Array;
  /** Whether the positive is among the user's k candidates. */
  hits: Uint8Array;
}

export interface RetrieveOptions extends LongWorkOptions {
  batchSize?: number;
  maskHistory?: boolean;
  /** As in FullRankingOptions: mask only the history's last `maskWindow` items (LlamaRec's candidate generation). */
  maskWindow?: number;
  users?: ArrayLike<number>;
}

export async function retrieveTopK(
  model: SequentialRecommender,
  ds: SequenceDataset,
  split: EvalSplit = "test",
  k = 20,
  options: RetrieveOptions = {},
): Promise<Retrieval> {
  checkSplit(split);
  if (!Number.isInteger(k) || k < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `k must be a positive integer, got ${k}`, { field: "k" });
  const users = resolveUsers(ds, options.users);
  const width = ds.catalog.size + 1;
  const out: Retrieval = {
    model: model.name,
    dataset: ds.name,
    datasetProtocol: ds.protocol,
    split,
    k,
    users,
    historyLengths: Int32Array.from(users, (u) => inputHistory(ds, u, split).length),
    candidates: [],
    scores: [],
    positives: new Int32Array(users.length),
    ranks: new Int32Array(users.length),
    hits: new Uint8Array(users.length),
  };
  if (model.topK) return retrieveApproximate(model, ds, split, k, options, out);
  let i = 0;
  for await (const batch of scoreBatches(model, ds, split, users, options.batchSize ?? 64, options.maskHistory ?? true, options)) {
    for (let b = 0; b < batch.users.length; b++) {
      const row = batch.scores.subarray(b * width, (b + 1) * width);
      const top = topK(row, k);
      const target = batch.targets[b];
      out.candidates.push(top);
      out.scores.push(Float32Array.from(top, (item) => row[item]));
      out.positives[i] = target;
      out.ranks[i] = rankOfPositive(row, target, { from: 1, where: `scores of user ${ds.users[batch.users[b]]}` });
      out.hits[i] = top.includes(target) ? 1 : 0;
      i++;
    }
    options.onProgress?.({ stage: "retrieve", done: i, total: users.length, unit: "users" });
  }
  return out;
}

/** One user's line of `reclm retrieve --out x.jsonl`: what a ranker reads back. */
export interface RetrievalRecord {
  /** The dataset's own user id. */
  user: string;
  historyLength: number;
  /** reclm's dense item ids for this dataset + protocol (1..N), best first. */
  candidates: number[];
  /** The same candidates as the dataset's own item ids (the user's ids, for custom data). */
  candidateIds: string[];
  scores: number[];
  /** The held-out item (dense id). */
  positive: number;
  hit: boolean;
}

/** A retrieval as one JSON-able record per user. */
export function retrievalRecords(ds: SequenceDataset, r: Retrieval): RetrievalRecord[] {
  return Array.from(r.users, (u, i) => ({
    user: ds.users[u],
    historyLength: r.historyLengths[i],
    candidates: Array.from(r.candidates[i]),
    candidateIds: Array.from(r.candidates[i], (id) => ds.catalog.items[id].rawId),
    scores: Array.from(r.scores[i]),
    positive: r.positives[i],
    hit: r.hits[i] === 1,
  }));
}

/**
 * retrieveTopK through the model's approximate index (`topK`): no score per catalogue item is computed, so the
 * positive's rank is known only inside the k candidates; outside it is given as k + 1 (Recall@k' and NDCG@k' for
 * k' <= k are then exact, other metrics are not).
 */
async function retrieveApproximate(
  model: SequentialRecommender,
  ds: SequenceDataset,
  split: EvalSplit,
  k: number,
  options: RetrieveOptions,
  out: Retrieval,
): Promise<Retrieval> {
  const batchSize = options.batchSize ?? 64;
  const mask = options.maskHistory ?? true;
  const window = options.maskWindow ?? model.maskWindow;
  for (let start = 0; start < out.users.length; start += batchSize) {
    options.signal?.throwIfAborted();
    const users = out.users.subarray(start, start + batchSize);
    const histories = Array.from(users, (u) => inputHistory(ds, u, split));
    const exclude = histories.map((h) => (!mask ? new Int32Array(0) : window === undefined || window === Infinity ? h : h.subarray(Math.max(0, h.length - window))));
    const tops = await model.topK!(histories, k, exclude);
    tops.forEach((top, b) => {
      const i = start + b;
      const target = targetOf(ds, users[b], split);
      const at = top.items.indexOf(target);
      out.candidates.push(top.items);
      out.scores.push(top.scores);
      out.positives[i] = target;
      out.ranks[i] = at >= 0 ? at + 1 : k + 1;
      out.hits[i] = at >= 0 ? 1 : 0;
    });
    options.onProgress?.({ stage: "retrieve", done: Math.min(start + batchSize, out.users.length), total: out.users.length, unit: "users" });
  }
  return out;
}

/**
 * Indices 1..N of the k largest scores, best first; ties go to the lower item id (canonical, not insertion order).
 * Masked (-Infinity) items are never returned, so a user with a long history may get fewer than k.
 * Insertion into a short sorted buffer: O(N·k) worst case, fast for the k <= 100 that retrieval uses.
 */
export function topK(row: ArrayLike<number>, k: number): Int32Array {
  const ids = new Int32Array(k);
  const vals = new Float64Array(k);
  let size = 0;
  for (let item = 1; item < row.length; item++) {
    const s = row[item];
    if (s === -Infinity) continue;
    if (size === k && s <= vals[size - 1]) continue;
    let pos = size < k ? size : k - 1;
    while (pos > 0 && vals[pos - 1] < s) {
      if (pos < k) {
        vals[pos] = vals[pos - 1];
        ids[pos] = ids[pos - 1];
      }
      pos--;
    }
    vals[pos] = s;
    ids[pos] = item;
    if (size < k) size++;
  }
  return ids.slice(0, size);
}
