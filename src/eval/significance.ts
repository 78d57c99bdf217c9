/**
 * Is a difference between two methods on the same users more than the users drawn? LlamaRec's subset on
 * ml-latest-small is ~120 users, where a few percent of NDCG@10 comes and goes with the split. Paired per-user values
 * (both methods scored on each user) give a percentile bootstrap interval of the mean difference and a two-sided
 * sign-flip permutation p-value (under "no difference" each user's difference is as likely negated). Seeded, so a
 * result file's figures rerun exactly.
 */
import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { ndcgAt } from "./metrics.ts";

export interface PairedComparison {
  n: number;
  /** mean(a) - mean(b). */
  diff: number;
  /** 95% percentile-bootstrap interval of the mean difference. */
  ci95: [number, number];
  /** Two-sided sign-flip permutation p-value ((hits + 1) / (resamples + 1), never 0). */
  pValue: number;
  resamples: number;
  seed: number;
}

export function pairedComparison(a: ArrayLike<number>, b: ArrayLike<number>, options: { resamples?: number; seed?: number } = {}): PairedComparison {
  const resamples = options.resamples ?? 10_000;
  const seed = options.seed ?? 0;
  if (a.length !== b.length) throw new ReclmError("RECLM_ERR_SHAPE", `paired values must align: ${a.length} against ${b.length}`, { field: "b" });
  if (a.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "no users to compare", { field: "a" });
  if (!Number.isInteger(resamples) || resamples < 100) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `resamples must be an integer >= 100, got ${resamples}`, { field: "resamples" });
  const n = a.length;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = a[i] - b[i];
    if (!Number.isFinite(d[i])) throw new ReclmError("RECLM_ERR_SHAPE", `user ${i}: values ${a[i]} and ${b[i]} are not finite`, { field: "a" });
  }
  let sum = 0;
  for (const v of d) sum += v;
  const diff = sum / n;
  const rng = new Rng(seed);
  const boot = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[rng.int(0, n)];
    boot[r] = s / n;
  }
  boot.sort();
  const at = (q: number) => boot[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  // A small tolerance so that a permuted mean equal to the observed one (up to rounding) counts as "as extreme".
  const observed = Math.abs(diff) - 1e-12;
  let hits = 0;
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rng.next() < 0.5 ? -d[i] : d[i];
    if (Math.abs(s / n) >= observed) hits++;
  }
  return { n, diff, ci95: [at(0.025), at(0.975)], pValue: (hits + 1) / (resamples + 1), resamples, seed };
}

/**
 * A LlamaRec ranker against its retriever on the same users, NDCG@k per user: on the subset (the ranker's ranks
 * against the retriever's own), and overall (the users outside the subset keep the retriever's value in both).
 */
export function rankerVersusRetriever(
  result: { subsetIndex: Int32Array; subset: { rankerRanks: Int32Array } },
  retrieval: { ranks: Int32Array },
  options: { k?: number; resamples?: number; seed?: number } = {},
): { subset: PairedComparison; overall: PairedComparison } {
  const k = options.k ?? 10;
  const retriever = ndcgPerUser(retrieval.ranks, k);
  const ranker = ndcgPerUser(result.subset.rankerRanks, k);
  if (ranker.length !== result.subsetIndex.length) throw new ReclmError("RECLM_ERR_SHAPE", `${ranker.length} ranker ranks for ${result.subsetIndex.length} subset users`, { field: "rankerRanks" });
  const overall = Float64Array.from(retriever);
  result.subsetIndex.forEach((i, j) => (overall[i] = ranker[j]));
  return {
    subset: pairedComparison(ranker, Array.from(result.subsetIndex, (i) => retriever[i]), options),
    overall: pairedComparison(overall, retriever, options),
  };
}

/** Per-user NDCG@k from 1-based ranks (the values `pairedComparison` takes for two rankings of the same users). */
export function ndcgPerUser(ranks: ArrayLike<number>, k: number): Float64Array {
  return Float64Array.from(ranks as ArrayLike<number>, (r) => ndcgAt(r, k));
}
