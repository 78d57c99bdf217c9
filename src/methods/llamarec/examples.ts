/**
 * LlamaRec's training examples for the ranker (anchors.md §1.1; the authors' LLMTrainDataset): every prefix of length
 * 2 or more of each user's training sequence is one example, its last item the answer, up to 20 items before it the
 * history; the candidates are the answer and 19 items drawn uniformly from those outside the whole prefix, shuffled.
 *
 * Examples are addressed by index and each one's draw depends only on (seed, user, prefix end), so a fine-tuning run
 * can visit them in any order, use a subset, and resume mid-epoch with the same candidates.
 * Deviation: the authors' sampler may draw one negative twice (it checks history and answer only); reclm's are distinct,
 * so no two letters show the same title.
 */
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { candidateRng, drawCandidateSet } from "../../eval/candidates.ts";
import { LLAMAREC_CANDIDATES, LLAMAREC_MAX_HISTORY } from "./prompt.ts";

export interface RankingExample {
  user: number;
  /** Item ids shown as history, oldest first. */
  history: Int32Array;
  /** Item ids in letter order. */
  candidates: Int32Array;
  /** Index of the answer in `candidates`. */
  answer: number;
}

export interface RankingExamplesOptions {
  seed: number;
  /** History items shown (default 20). */
  maxHistory?: number;
  /** Candidates per example, the answer included (default 20). */
  candidates?: number;
}

/** Every training prefix of length >= 2: prefix i is user users[i]'s first ends[i] training items. */
export function trainingPrefixes(ds: SequenceDataset): { users: Int32Array; ends: Int32Array } {
  let n = 0;
  for (const seq of ds.train) n += Math.max(0, seq.length - 1);
  const users = new Int32Array(n);
  const ends = new Int32Array(n);
  let i = 0;
  ds.train.forEach((seq, u) => {
    for (let end = 2; end <= seq.length; end++, i++) {
      users[i] = u;
      ends[i] = end;
    }
  });
  return { users, ends };
}

export class RankingExamples {
  /** Example i is user users[i]'s training prefix of length ends[i]. */
  private readonly users: Int32Array;
  private readonly ends: Int32Array;
  private readonly maxHistory: number;
  private readonly negatives: number;

  constructor(
    private readonly ds: SequenceDataset,
    private readonly options: RankingExamplesOptions,
  ) {
    if (!Number.isInteger(options.seed)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `seed must be an integer, got ${options.seed}`, { field: "seed" });
    this.maxHistory = options.maxHistory ?? LLAMAREC_MAX_HISTORY;
    const candidates = options.candidates ?? LLAMAREC_CANDIDATES;
    if (!Number.isInteger(this.maxHistory) || this.maxHistory < 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxHistory must be a positive integer, got ${this.maxHistory}`, { field: "maxHistory" });
    }
    if (!Number.isInteger(candidates) || candidates < 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `candidates must be a positive integer, got ${candidates}`, { field: "candidates" });
    }
    this.negatives = candidates - 1;
    ({ users: this.users, ends: this.ends } = trainingPrefixes(ds));
  }

  get length(): number {
    return this.users.length;
  }

  example(i: number): RankingExample {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `example ${i} is outside 0..${this.length - 1}`, { field: "example" });
    }
    const u = this.users[i];
    const end = this.ends[i];
    const prefix = this.ds.train[u].subarray(0, end);
    const target = prefix[end - 1];
    const seen = prefix.subarray(0, end - 1);
    const excluded = new Set<number>(seen);
    excluded.add(target);
    const { candidates, positiveIndex } = drawCandidateSet(candidateRng(this.options.seed, u, end), this.ds.catalog.size, excluded, target, this.negatives, {
      who: `user ${this.ds.users[u]}`,
      excluded: `a training prefix of ${end} items`,
      field: "candidates",
    });
    return { user: u, history: Int32Array.from(seen.subarray(Math.max(0, seen.length - this.maxHistory))), candidates, answer: positiveIndex };
  }
}
