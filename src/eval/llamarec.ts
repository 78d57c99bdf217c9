/**
 * LlamaRec's two reported numbers (anchors.md §1.3):
 *  - subset ("llamarec-subset", paper Table 3): only users whose positive is in the retriever's top-20; the ranker
 *    re-orders those 20 candidates.
 *  - overall ("llamarec-overall", paper Table 1): (subset_metric * n_subset + retriever_metric_on_others * n_other) / n_total.
 *    The others' retriever term is computed from their full-ranking ranks, not assumed 0 (it is 0 only for k <= top-k).
 * The retriever alone on the same subset is reported beside the ranker, so the ranker's gain is visible.
 */
import type { LongWorkOptions, Ranker, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { candidateRanking } from "./candidates.ts";
import type { Retrieval } from "./full-ranking.ts";
import { inputHistory } from "./history.ts";
import { metricsFromRanks, metricsMeanOfBatchMeans, validateKs, type Metrics } from "./metrics.ts";

export interface LlamaRecSubsetOverallOptions {
  /** Defaults to [1, 5, 10] (LlamaRec's ranker ks). */
  ks?: readonly number[];
  /** Batch size of the "mean of per-batch means" variant; LlamaRec uses 16 on ML-100k. Defaults to 16. */
  batchSize?: number;
}

export interface LlamaRecSubsetOverall {
  ranker: string;
  retriever: string;
  ks: number[];
  nSubset: number;
  nOther: number;
  nTotal: number;
  /** Positions (into retrieval.users) of the subset users, in retrieval order. */
  subsetIndex: Int32Array;
  subset: {
    /** The ranker's 1-based ranks within the candidates, aligned with subsetIndex. */
    rankerRanks: Int32Array;
    ranker: Metrics;
    /**
     * The retriever's own ranks for the same users: <= top-k, except under exact score ties at the list's edge, where
     * the candidate list breaks ties by id (as torch.topk by position) but ranks stay pessimistic (a tie ranks last).
     */
    retriever: Metrics;
  };
  /** The retriever's full-ranking metrics on users outside the subset. */
  othersRetriever: Metrics;
  overall: {
    /** Paper Table 1: ranker on the subset combined with the retriever on the others. */
    ranker: Metrics;
    /** The retriever alone on all users (its own full-ranking figure). */
    retriever: Metrics;
  };
  /** The same four figures as LlamaRec's official code averages them: mean of per-batch means (anchors §1.3 quirk). */
  meanOfBatchMeans: {
    batchSize: number;
    subsetRanker: Metrics;
    subsetRetriever: Metrics;
    overallRanker: Metrics;
    overallRetriever: Metrics;
  };
}

/**
 * @param rankerScores per retrieval position i: the ranker's scores aligned with retrieval.candidates[i] for subset
 *   users (positive among the candidates); ignored (may be undefined) for the others.
 */
export function llamarecSubsetOverall(
  retrieval: Retrieval,
  rankerScores: readonly (ArrayLike<number> | undefined)[],
  rankerName: string,
  options: LlamaRecSubsetOverallOptions = {},
): LlamaRecSubsetOverall {
  const ks = [...(options.ks ?? [1, 5, 10])];
  validateKs(ks);
  const batchSize = options.batchSize ?? 16;
  const nTotal = retrieval.users.length;
  if (rankerScores.length !== nTotal) {
    throw new ReclmError("RECLM_ERR_SHAPE", `${rankerScores.length} ranker score lists for ${nTotal} retrieved users`, { field: "rankerScores" });
  }
  const subsetPositions: number[] = [];
  const otherPositions: number[] = [];
  for (let i = 0; i < nTotal; i++) (retrieval.hits[i] ? subsetPositions : otherPositions).push(i);
  const subsetIndex = Int32Array.from(subsetPositions);
  const missing = subsetPositions.find((i) => rankerScores[i] === undefined);
  if (missing !== undefined) {
    throw new ReclmError("RECLM_ERR_SHAPE", `no ranker scores for subset user at position ${missing}`, { field: "rankerScores" });
  }
  const ranked = candidateRanking({
    candidates: subsetPositions.map((i) => retrieval.candidates[i]),
    scores: subsetPositions.map((i) => rankerScores[i] as ArrayLike<number>),
    positives: subsetPositions.map((i) => retrieval.positives[i]),
    ks,
  });
  const subsetRetrieverRanks = subsetPositions.map((i) => retrieval.ranks[i]);
  const otherRetrieverRanks = otherPositions.map((i) => retrieval.ranks[i]);
  const nSubset = subsetPositions.length;
  const nOther = otherPositions.length;

  const subsetRanker = ranked.metrics;
  const othersRetriever = metricsFromRanks(otherRetrieverRanks, ks);
  const batchSubsetRanker = metricsMeanOfBatchMeans(ranked.ranks, ks, batchSize);
  const batchOthers = metricsMeanOfBatchMeans(otherRetrieverRanks, ks, batchSize);
  return {
    ranker: rankerName,
    retriever: retrieval.model,
    ks,
    nSubset,
    nOther,
    nTotal,
    subsetIndex,
    subset: {
      rankerRanks: ranked.ranks,
      ranker: subsetRanker,
      retriever: metricsFromRanks(subsetRetrieverRanks, ks),
    },
    othersRetriever,
    overall: {
      ranker: combine(subsetRanker, nSubset, othersRetriever, nOther),
      retriever: metricsFromRanks(retrieval.ranks, ks),
    },
    meanOfBatchMeans: {
      batchSize,
      subsetRanker: batchSubsetRanker,
      subsetRetriever: metricsMeanOfBatchMeans(subsetRetrieverRanks, ks, batchSize),
      overallRanker: combine(batchSubsetRanker, nSubset, batchOthers, nOther),
      overallRetriever: metricsMeanOfBatchMeans(retrieval.ranks, ks, batchSize),
    },
  };
}

/** (a * na + b * nb) / (na + nb), key by key: LlamaRec's overall formula. */
function combine(a: Metrics, na: number, b: Metrics, nb: number): Metrics {
  const out: Metrics = {};
  const total = na + nb;
  for (const key of Object.keys(a)) out[key] = total ? (a[key] * na + b[key] * nb) / total : 0;
  return out;
}

/** Runs a Ranker over the subset users' retrieved candidates; undefined for users outside the subset. */
export async function rankRetrievedCandidates(
  ranker: Ranker,
  ds: SequenceDataset,
  retrieval: Retrieval,
  options: LongWorkOptions = {},
): Promise<(Float32Array | undefined)[]> {
  const out: (Float32Array | undefined)[] = new Array(retrieval.users.length).fill(undefined);
  const total = retrieval.hits.reduce((a, h) => a + h, 0);
  let done = 0;
  for (let i = 0; i < retrieval.users.length; i++) {
    if (!retrieval.hits[i]) continue;
    options.signal?.throwIfAborted();
    const cands = retrieval.candidates[i];
    const scores = await ranker.rank(inputHistory(ds, retrieval.users[i], retrieval.split), cands);
    if (scores.length !== cands.length) {
      throw new ReclmError("RECLM_ERR_SHAPE", `ranker "${ranker.name}" returned ${scores.length} scores for ${cands.length} candidates`, {
        field: "rank",
      });
    }
    out[i] = scores;
    options.onProgress?.({ stage: "llamarec-rank", done: ++done, total, unit: "users" });
  }
  return out;
}

/** Table rows for `formatMetricsTable`: ranker and retriever on the subset and overall, then the batch-mean variant. */
export function llamarecRows(res: LlamaRecSubsetOverall): { method: string; labels: Record<string, string | number>; metrics: Metrics }[] {
  const b = res.meanOfBatchMeans;
  const row = (method: string, protocol: string, users: number, metrics: Metrics, averaging: string) => ({
    method,
    labels: { protocol, users, averaging },
    metrics,
  });
  return [
    row(res.ranker, "llamarec-subset", res.nSubset, res.subset.ranker, "per-user"),
    row(res.retriever, "llamarec-subset", res.nSubset, res.subset.retriever, "per-user"),
    row(res.ranker, "llamarec-overall", res.nTotal, res.overall.ranker, "per-user"),
    row(res.retriever, "llamarec-overall", res.nTotal, res.overall.retriever, "per-user"),
    row(res.ranker, "llamarec-subset", res.nSubset, b.subsetRanker, `mean of batch-${b.batchSize} means`),
    row(res.retriever, "llamarec-subset", res.nSubset, b.subsetRetriever, `mean of batch-${b.batchSize} means`),
    row(res.ranker, "llamarec-overall", res.nTotal, b.overallRanker, `mean of batch-${b.batchSize} means`),
    row(res.retriever, "llamarec-overall", res.nTotal, b.overallRetriever, `mean of batch-${b.batchSize} means`),
  ];
}
