/**
 * Evaluation: the protocols the papers measure by, never mixed in one table. Full ranking (every item scored, the
 * history masked), candidate ranking (LLaRA's 1 + 19), LlamaRec's subset + overall over a retriever's top-20,
 * score fusion of a ranker with its retriever, paired significance of a difference, GenRec's generation exact match; the metrics over ranks; tables and JSON.
 *
 * ```ts
 * import { loadDataset, resolveModel, fullRanking, formatMetricsTable } from "reclm";
 * const ds = await loadDataset("embedded");
 * const report = await fullRanking(await resolveModel("cooc", ds, { split: "test" }), ds, { split: "test" });
 * console.log(report.metrics["Recall@10"], formatMetricsTable([{ method: "cooc", metrics: report.metrics }]));
 * ```
 * @module evaluation
 */
export { DEFAULT_KS, fullRanking, retrievalRecords, retrieveTopK, topK } from "../eval/full-ranking.ts";
export type { FullRankingOptions, RankingReport, Retrieval, RetrievalRecord, RetrieveOptions } from "../eval/full-ranking.ts";
export { candidateRanking, candidateRng, drawCandidateSet, sampledCandidates } from "../eval/candidates.ts";
export type { CandidateRankingInput, CandidateRankingResult, CandidateSetContext, SampledCandidates, SampledCandidatesOptions } from "../eval/candidates.ts";
export { llamarecRows, llamarecSubsetOverall, rankRetrievedCandidates } from "../eval/llamarec.ts";
export type { LlamaRecSubsetOverall, LlamaRecSubsetOverallOptions } from "../eval/llamarec.ts";
export { checkFusionWeight, FUSION_WEIGHT_GRID, fuseCandidateScores, fuseRetrievalScores, selectFusionWeight } from "../eval/fusion.ts";
export type { FusionWeightSelection } from "../eval/fusion.ts";
export { ndcgPerUser, pairedComparison, rankerVersusRetriever } from "../eval/significance.ts";
export type { PairedComparison } from "../eval/significance.ts";
export { generationExactMatch, llaraHitRatio } from "../eval/generation.ts";
export type { GenerationExactMatch, LlaraHitRatio } from "../eval/generation.ts";
export { METRIC_NAMES, metricsFromRanks, metricsMeanOfBatchMeans, mrrAt, ndcgAt, rankOfPositive, recallAt, validateKs } from "../eval/metrics.ts";
export type { MetricName, Metrics } from "../eval/metrics.ts";
export { inputHistory, targetOf } from "../eval/history.ts";
export { formatMetricsTable, orderedMetricKeys, toJson } from "../eval/report.ts";
export type { MetricsRow } from "../eval/report.ts";
