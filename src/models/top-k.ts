/**
 * A retriever as a `Recommender`: score every item for the history, mask what was seen (unless asked not to), return
 * the top k. What `reclm recommend --model` and the service answer with when no LLM ranker is loaded, and the first
 * stage of retrieve-then-rank. A retriever with an approximate index (its `topK`) is asked for its top k directly.
 */
import type { Recommendation, Recommender, RecommendOptions, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { topK } from "../eval/full-ranking.ts";

export class TopKRecommender implements Recommender {
  private freed = false;
  readonly name: string;

  constructor(readonly model: SequentialRecommender) {
    this.name = model.name;
  }

  /** The top `k` items and their scores for one history. */
  async top(history: Int32Array, k: number, excludeSeen = true): Promise<{ items: Int32Array; scores: Float32Array }> {
    if (history.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the history is empty: there is nothing to recommend from", { field: "history" });
    if (!Number.isInteger(k) || k < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `k must be a positive integer, got ${k}`, { field: "k" });
    // A retriever with an approximate index answers without scoring the catalogue (src/models/ann.ts).
    if (this.model.topK) return (await this.model.topK([history], Math.min(k, this.model.nItems), [excludeSeen ? history : new Int32Array(0)]))[0];
    const row = await this.model.scoreAll([history]);
    if (row.length !== this.model.nItems + 1) throw new ReclmError("RECLM_ERR_SHAPE", `model "${this.model.name}" returned ${row.length} scores for ${this.model.nItems} items`, { field: "scoreAll" });
    row[0] = -Infinity;
    if (excludeSeen) for (const i of history) row[i] = -Infinity;
    const items = topK(row, Math.min(k, this.model.nItems));
    return { items, scores: Float32Array.from(items, (i) => row[i]) };
  }

  async recommend(history: Int32Array, options: RecommendOptions): Promise<Recommendation[]> {
    const { items, scores } = await this.top(history, options.k, options.excludeSeen ?? true);
    return Array.from(items, (item, j) => ({ item, score: scores[j] })).filter((r) => Number.isFinite(r.score));
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.freed;
  }

  async dispose(): Promise<void> {
    this.freed = true;
    await this.model.dispose?.();
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
