/**
 * Ranking over short per-user candidate lists: LlamaRec's re-ranking of the retriever's top-20 and LLaRA's sampled
 * 1 + 19 sets (anchors.md §1.1, §3.1). Candidate sets are fixed per user and seed so every method sees the same ones.
 */
import type { EvalSplit, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { checkSplit, inputHistory, resolveUsers, targetOf } from "./history.ts";
import { metricsFromRanks, rankOfPositive, validateKs, type Metrics } from "./metrics.ts";

export interface CandidateRankingInput {
  /** Per user: the candidate item ids. */
  candidates: readonly ArrayLike<number>[];
  /** Per user: scores aligned with `candidates` (higher is better). */
  scores: readonly ArrayLike<number>[];
  /** Per user: the positive item id; it must be among that user's candidates. */
  positives: ArrayLike<number>;
  ks: readonly number[];
}

export interface CandidateRankingResult {
  /** 1-based pessimistic rank of the positive within its candidate list. */
  ranks: Int32Array;
  metrics: Metrics;
}

export function candidateRanking(input: CandidateRankingInput): CandidateRankingResult {
  validateKs(input.ks);
  const n = input.candidates.length;
  if (input.scores.length !== n || input.positives.length !== n) {
    throw new ReclmError(
      "RECLM_ERR_SHAPE",
      `candidate lists (${n}), score lists (${input.scores.length}) and positives (${input.positives.length}) must align`,
      { field: "candidates" },
    );
  }
  const ranks = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cands = input.candidates[i];
    const scores = input.scores[i];
    if (scores.length !== cands.length) {
      throw new ReclmError("RECLM_ERR_SHAPE", `user ${i}: ${scores.length} scores for ${cands.length} candidates`, { field: "scores" });
    }
    const pos = Array.prototype.indexOf.call(cands, input.positives[i]) as number;
    if (pos < 0) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `user ${i}: positive ${input.positives[i]} is not among the candidates`, {
        field: "positives",
      });
    }
    ranks[i] = rankOfPositive(scores, pos, { where: `scores of user ${i}` });
  }
  return { ranks, metrics: metricsFromRanks(ranks, input.ks) };
}

export interface SampledCandidatesOptions {
  /** Negatives per user. Defaults to 19 (LLaRA's cans_num = 20). */
  negatives?: number;
  seed: number;
  users?: ArrayLike<number>;
}

export interface SampledCandidates {
  protocol: string;
  split: EvalSplit;
  seed: number;
  users: Int32Array;
  /** Per user: 1 + negatives item ids, shuffled. */
  candidates: Int32Array[];
  positives: Int32Array;
  /** Index of the positive inside candidates[i]. */
  positiveIndex: Int32Array;
}

/**
 * LLaRA's sampled protocol: per user, `negatives` distinct items drawn uniformly from the items that are neither in
 * the input history nor the target, plus the target, shuffled. Unlike LLaRA (which re-draws in `__getitem__`), each
 * user's set depends only on (seed, user index), so subsets of users and every method see identical sets.
 */
export function sampledCandidates(ds: SequenceDataset, split: EvalSplit, options: SampledCandidatesOptions): SampledCandidates {
  checkSplit(split);
  const negatives = options.negatives ?? 19;
  if (!Number.isInteger(negatives) || negatives < 0) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `negatives must be a non-negative integer, got ${negatives}`, { field: "negatives" });
  }
  if (!Number.isInteger(options.seed)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `seed must be an integer, got ${options.seed}`, { field: "seed" });
  }
  const n = ds.catalog.size;
  const users = resolveUsers(ds, options.users);
  const result: SampledCandidates = {
    protocol: `llara-1+${negatives}`,
    split,
    seed: options.seed,
    users,
    candidates: [],
    positives: new Int32Array(users.length),
    positiveIndex: new Int32Array(users.length),
  };
  users.forEach((u, i) => {
    const target = targetOf(ds, u, split);
    const excluded = new Set<number>(inputHistory(ds, u, split));
    excluded.add(target);
    const { candidates: cands, positiveIndex } = drawCandidateSet(candidateRng(options.seed, u), n, excluded, target, negatives, {
      who: `user ${ds.users[u]}`,
      excluded: "the history and target",
      field: "negatives",
    });
    result.candidates.push(cands);
    result.positives[i] = target;
    result.positiveIndex[i] = positiveIndex;
  });
  return result;
}

/** Whom a candidate set is drawn for, and what it excludes: the words of the error when too few items are left. */
export interface CandidateSetContext {
  who: string;
  excluded: string;
  field: string;
}

/**
 * One candidate set: `negatives` distinct items drawn uniformly from 1..nItems outside `excluded` (which holds the
 * target), then the target, shuffled. Shared by LLaRA's evaluation sets and LlamaRec's training examples; a catalogue
 * with too few items left is refused in the caller's words.
 */
export function drawCandidateSet(
  rng: Rng,
  nItems: number,
  excluded: ReadonlySet<number>,
  target: number,
  negatives: number,
  context: CandidateSetContext,
): { candidates: Int32Array; positiveIndex: number } {
  const eligible = nItems - excluded.size;
  if (eligible < negatives) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${context.who}: only ${eligible} items are outside ${context.excluded}, ${negatives} negatives asked`, {
      field: context.field,
    });
  }
  const cands = new Int32Array(negatives + 1);
  let filled = 0;
  if (eligible > 2 * negatives) {
    // Rejection sampling: cheap while the catalogue is much larger than history + negatives (always, in practice).
    const chosen = new Set<number>();
    while (filled < negatives) {
      const item = rng.int(1, nItems + 1);
      if (excluded.has(item) || chosen.has(item)) continue;
      chosen.add(item);
      cands[filled++] = item;
    }
  } else {
    const pool: number[] = [];
    for (let item = 1; item <= nItems; item++) if (!excluded.has(item)) pool.push(item);
    rng.shuffle(pool);
    for (; filled < negatives; filled++) cands[filled] = pool[filled];
  }
  cands[negatives] = target;
  rng.shuffle(cands);
  return { candidates: cands, positiveIndex: cands.indexOf(target) };
}

/**
 * A stream that depends only on (seed, user[, prefix end]): independent of the order or subset of users (or training
 * prefixes) drawn. `end` 0 is the user's evaluation set.
 */
export function candidateRng(seed: number, u: number, end = 0): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(u + 1, 0x85ebca6b) ^ Math.imul(end, 0xc2b2ae35)) >>> 0);
}
