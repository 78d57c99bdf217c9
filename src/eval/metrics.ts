/**
 * Top-k metrics for one positive per user, computed from the positive's 1-based rank
 * (LlamaRec `absolute_recall_mrr_ndcg_for_ks`, anchors.md §1.3 and §8.2):
 *   Recall@k = HR@k = [rank <= k]
 *   NDCG@k   = 1 / log2(rank + 1) if rank <= k   (IDCG = 1 with a single positive)
 *   MRR@k    = 1 / rank          if rank <= k
 * Aggregation is the exact per-user mean. k larger than the candidate list is fine: a rank can never exceed
 * the list length, so the metric is simply over what exists.
 */
import { ReclmError } from "../errors.ts";

export type MetricName = "Recall" | "NDCG" | "MRR";
export const METRIC_NAMES: readonly MetricName[] = ["Recall", "NDCG", "MRR"];

/** Keys as bench-results.md spells them: "Recall@10", "NDCG@10", "MRR@10". */
export type Metrics = Record<string, number>;

export function recallAt(rank: number, k: number): number {
  return rank <= k ? 1 : 0;
}

export function ndcgAt(rank: number, k: number): number {
  return rank <= k ? 1 / Math.log2(rank + 1) : 0;
}

export function mrrAt(rank: number, k: number): number {
  return rank <= k ? 1 / rank : 0;
}

/**
 * 1-based rank of the positive in a score row. Ties count AGAINST the positive (pessimistic):
 * rank = 1 + #{other candidates whose score >= the positive's}. With optimistic or index-order tie breaking a
 * constant scorer (or one that collapsed to equal scores) would rank every positive first and look perfect;
 * pessimistic ranks give it the worst place instead. Candidates scored -Infinity (masked) never outrank a finite
 * positive, but a masked positive (-Infinity) is ranked behind every other candidate, masked ones included.
 *
 * `exclude` lets callers skip columns that are not candidates at all (column 0 = padding in a full score row).
 */
export function rankOfPositive(
  scores: ArrayLike<number>,
  positiveIndex: number,
  options: { from?: number; to?: number; exclude?: (index: number) => boolean; where?: string } = {},
): number {
  const from = options.from ?? 0;
  const to = options.to ?? scores.length;
  if (positiveIndex < from || positiveIndex >= to) {
    throw new ReclmError("RECLM_ERR_SHAPE", `positive index ${positiveIndex} is outside the score row [${from}, ${to})`, {
      field: options.where,
    });
  }
  const p = scores[positiveIndex];
  if (Number.isNaN(p)) throw nanError(positiveIndex, options.where);
  let rank = 1;
  for (let i = from; i < to; i++) {
    if (i === positiveIndex) continue;
    if (options.exclude?.(i)) continue;
    const s = scores[i];
    if (Number.isNaN(s)) throw nanError(i, options.where);
    if (s >= p) rank++;
  }
  return rank;
}

function nanError(index: number, where: string | undefined): ReclmError {
  return new ReclmError("RECLM_ERR_BAD_FIELD", `score at column ${index} is NaN: the model produced an invalid score`, {
    field: where ?? "scores",
  });
}

/** Per-user mean of Recall/NDCG/MRR at each k, keyed "Recall@k" etc. Ranks of 0 or below are rejected. */
export function metricsFromRanks(ranks: ArrayLike<number>, ks: readonly number[]): Metrics {
  validateKs(ks);
  const out: Metrics = {};
  const n = ranks.length;
  for (const k of ks) {
    let r = 0;
    let nd = 0;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const rank = ranks[i];
      if (!(rank >= 1) || !Number.isInteger(rank)) {
        throw new ReclmError("RECLM_ERR_BAD_FIELD", `rank ${rank} of user ${i} is not a positive integer`, { field: "ranks" });
      }
      r += recallAt(rank, k);
      nd += ndcgAt(rank, k);
      m += mrrAt(rank, k);
    }
    out[`Recall@${k}`] = n ? r / n : 0;
    out[`NDCG@${k}`] = n ? nd / n : 0;
    out[`MRR@${k}`] = n ? m / n : 0;
  }
  return out;
}

/**
 * LlamaRec's official retriever `test()` figure: the mean over batches of per-batch means (anchors.md §1.3 quirk).
 * A short last batch weighs as much as a full one, so this differs from `metricsFromRanks`. Reported only beside the
 * exact per-user mean, named as such, to compare with the paper.
 */
export function metricsMeanOfBatchMeans(ranks: ArrayLike<number>, ks: readonly number[], batchSize: number): Metrics {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `batch size must be a positive integer, got ${batchSize}`, { field: "batchSize" });
  }
  const all = Array.from(ranks);
  const sums: Metrics = {};
  let batches = 0;
  for (let start = 0; start < all.length; start += batchSize) {
    const m = metricsFromRanks(all.slice(start, start + batchSize), ks);
    for (const [key, v] of Object.entries(m)) sums[key] = (sums[key] ?? 0) + v;
    batches++;
  }
  if (batches === 0) return metricsFromRanks([], ks);
  for (const key of Object.keys(sums)) sums[key] /= batches;
  return sums;
}

export function validateKs(ks: readonly number[]): void {
  if (ks.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "at least one k is needed", { field: "ks" });
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `k must be a positive integer, got ${k}`, { field: "ks" });
  }
}
