/**
 * Score fusion of a two-stage recommender: the ranker's scores of the retriever's candidates interpolated with the
 * retriever's own scores of them, each first turned into a distribution over the candidates (log-softmax), so neither
 * stage's scale decides: `(1 - w) * log p_ranker + w * log p_retriever`. w = 0 is the ranker alone (LlamaRec as
 * published), w = 1 the retriever's own order. Interpolating a re-ranker with its first stage is the usual guard in
 * retrieve-then-rank systems when the re-ranker is weak; LlamaRec does not do it, so it is always a named variant.
 * The weight is chosen on validation users and then applied unchanged to the test users.
 */
import { ReclmError } from "../errors.ts";
import { llamarecSubsetOverall } from "./llamarec.ts";
import type { Retrieval } from "./full-ranking.ts";

/** The weights `selectFusionWeight` tries by default: 0, 0.05, ..., 1. */
export const FUSION_WEIGHT_GRID: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 20);

export function checkFusionWeight(weight: number, field = "fusionWeight"): number {
  if (!Number.isFinite(weight) || weight < 0 || weight > 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} must be a number in [0, 1] (0: the ranker alone, 1: the retriever's order), got ${weight}`, { field });
  return weight;
}

/** -Infinity (a candidate its stage excluded) stays -Infinity: probability 0. */
function logSoftmax(x: ArrayLike<number>, name: string): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) || x[i] === Infinity) throw new ReclmError("RECLM_ERR_SHAPE", `${name} score ${i} is ${x[i]}: fusion needs finite scores (or -Infinity for an excluded candidate)`, { field: `${name}Scores` });
    if (x[i] > max) max = x[i];
  }
  if (max === -Infinity) throw new ReclmError("RECLM_ERR_SHAPE", `every ${name} score is -Infinity: nothing to fuse`, { field: `${name}Scores` });
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(x, (v) => v - lse);
}

/** The fused scores of one user's candidates; both score lists align with the same candidates. */
export function fuseCandidateScores(rankerScores: ArrayLike<number>, retrieverScores: ArrayLike<number>, weight: number): Float32Array {
  checkFusionWeight(weight);
  if (rankerScores.length !== retrieverScores.length) throw new ReclmError("RECLM_ERR_SHAPE", `${rankerScores.length} ranker scores for ${retrieverScores.length} retriever scores`, { field: "rankerScores" });
  const a = logSoftmax(rankerScores, "ranker");
  const b = logSoftmax(retrieverScores, "retriever");
  // The ends are exact (0 * -Infinity would be NaN): w = 0 orders as the ranker, w = 1 as the retriever.
  if (weight === 0) return Float32Array.from(a);
  if (weight === 1) return Float32Array.from(b);
  return Float32Array.from(a, (v, i) => (1 - weight) * v + weight * b[i]);
}

/** Every subset user's ranker scores fused with the retriever's scores of the same candidates (others stay undefined). */
export function fuseRetrievalScores(retrieval: Retrieval, rankerScores: readonly (ArrayLike<number> | undefined)[], weight: number): (Float32Array | undefined)[] {
  if (rankerScores.length !== retrieval.users.length) throw new ReclmError("RECLM_ERR_SHAPE", `${rankerScores.length} ranker score lists for ${retrieval.users.length} retrieved users`, { field: "rankerScores" });
  return rankerScores.map((s, i) => (s === undefined ? undefined : fuseCandidateScores(s, retrieval.scores[i], weight)));
}

export interface FusionWeightSelection {
  weight: number;
  /** The selection metric on the subset users at each weight tried, in grid order. */
  curve: { weight: number; value: number }[];
  metric: string;
  users: number;
}

/**
 * The weight whose fused ranking scores best on these (validation) users' subset; among equal scores the smallest
 * weight, so the ranker keeps as much say as the data allows.
 */
export function selectFusionWeight(
  retrieval: Retrieval,
  rankerScores: readonly (ArrayLike<number> | undefined)[],
  options: { grid?: readonly number[]; metric?: string } = {},
): FusionWeightSelection {
  const grid = [...(options.grid ?? FUSION_WEIGHT_GRID)].map((w) => checkFusionWeight(w, "grid")).sort((x, y) => x - y);
  if (grid.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "an empty grid of fusion weights", { field: "grid" });
  const metric = options.metric ?? "NDCG@10";
  const k = Number(/@(\d+)$/.exec(metric)?.[1]);
  if (!Number.isInteger(k) || k < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `metric must look like NDCG@10, got ${metric}`, { field: "metric" });
  const curve = grid.map((weight) => {
    const r = llamarecSubsetOverall(retrieval, fuseRetrievalScores(retrieval, rankerScores, weight), "fused", { ks: [k] });
    const value = r.subset.ranker[metric];
    if (value === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown metric ${metric}`, { field: "metric" });
    return { weight, value, users: r.nSubset };
  });
  if (curve[0].users === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "no user has the answer among the candidates: nothing to choose a fusion weight on", { field: "retrieval" });
  let best = curve[0];
  for (const c of curve) if (c.value > best.value) best = c;
  return { weight: best.weight, curve: curve.map(({ weight, value }) => ({ weight, value })), metric, users: curve[0].users };
}
