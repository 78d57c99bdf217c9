/**
 * LlamaRec as a recommender (anchors.md §1, Fig. 1): the retriever scores every item for the history, its top-20 (the
 * history masked, as the papers' evaluation does) go to the ranker, which re-orders them in one forward pass. The
 * answer is the ranker's order of those 20; asked for more than 20, the retriever's next items follow in its own order.
 * The CLI's `recommend`, `eval` and the service consume it through the `Recommender` contract.
 */
import type { Ranker, Recommendation, Recommender, RecommendOptions, SequentialRecommender } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { checkFusionWeight, fuseCandidateScores } from "../../eval/fusion.ts";
import { TopKRecommender } from "../../models/top-k.ts";
import { LLAMAREC_CANDIDATES } from "./prompt.ts";

export interface RetrieveThenRankOptions {
  /** Candidates the ranker re-orders (LlamaRec: 20). */
  candidates?: number;
  name?: string;
  /**
   * Interpolate the ranker's scores with the retriever's own (src/eval/fusion.ts): 0 (the default, LlamaRec as
   * published) is the ranker alone, 1 the retriever's order. `reclm eval --method llamarec --fusion validation` chooses it.
   */
  fusionWeight?: number;
}

/** What one recommendation took, per stage (the service reports it). */
export interface StageTimings {
  retrieveMs: number;
  rankMs: number;
}

export class RetrieveThenRank implements Recommender {
  private freed = false;
  readonly name: string;
  readonly candidates: number;
  readonly fusionWeight: number;
  /** Timings of the most recent `recommend`. */
  lastTimings: StageTimings = { retrieveMs: 0, rankMs: 0 };
  private readonly stage1: TopKRecommender;

  constructor(
    readonly retriever: SequentialRecommender,
    readonly ranker: Ranker,
    options: RetrieveThenRankOptions = {},
  ) {
    this.candidates = options.candidates ?? LLAMAREC_CANDIDATES;
    if (!Number.isInteger(this.candidates) || this.candidates < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `candidates must be a positive integer, got ${this.candidates}`, { field: "candidates" });
    this.fusionWeight = checkFusionWeight(options.fusionWeight ?? 0);
    this.name = options.name ?? `${retriever.name}+${ranker.name}`;
    this.stage1 = new TopKRecommender(retriever);
  }

  async recommend(history: Int32Array, options: RecommendOptions): Promise<Recommendation[]> {
    const k = options.k;
    if (!Number.isInteger(k) || k < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `k must be a positive integer, got ${k}`, { field: "k" });
    const t0 = performance.now();
    const { items, scores } = await this.stage1.top(history, Math.max(k, this.candidates), options.excludeSeen ?? true);
    const t1 = performance.now();
    const head = items.subarray(0, Math.min(this.candidates, items.length));
    const raw = await this.ranker.rank(history, head);
    const t2 = performance.now();
    this.lastTimings = { retrieveMs: t1 - t0, rankMs: t2 - t1 };
    if (raw.length !== head.length) throw new ReclmError("RECLM_ERR_SHAPE", `ranker "${this.ranker.name}" returned ${raw.length} scores for ${head.length} candidates`, { field: "rank" });
    const ranked = this.fusionWeight > 0 ? fuseCandidateScores(raw, scores.subarray(0, head.length), this.fusionWeight) : raw;
    // Ranker order (ties keep the retriever's order), then whatever the retriever ranks below its candidates.
    const order = Array.from(head, (_, j) => j).sort((a, b) => ranked[b] - ranked[a] || a - b);
    const out: Recommendation[] = order.map((j) => ({ item: head[j], score: ranked[j] }));
    for (let j = head.length; j < items.length && out.length < k; j++) out.push({ item: items[j], score: scores[j] });
    return out.slice(0, k);
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.freed;
  }

  async dispose(): Promise<void> {
    this.freed = true;
    await this.ranker.dispose?.();
    await this.retriever.dispose?.();
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
