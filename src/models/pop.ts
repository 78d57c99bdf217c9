/**
 * Pop: the most-popular baseline. Every history gets the same row: each item's interaction count.
 *
 * Which interactions count: exactly those a model may see as input for the split it is evaluated on, so no held-out
 * target leaks into the counts:
 *   split "val"  -> train[u] of every user
 *   split "test" -> train[u] + val[u] of every user (the test input histories)
 * Test items are never counted. Eval masks each user's history afterwards, as for every model.
 */
import type { EvalSplit, SequenceDataset, SequentialRecommender } from "../contracts.ts";

export interface BaselineOptions {
  /** The split this model will be evaluated on; decides which interactions it learns from. Defaults to "test". */
  split?: EvalSplit;
}

/** Interaction counts per item id (index 0 = padding, always 0) over the split's visible sequences. */
export function itemCounts(ds: SequenceDataset, split: EvalSplit): Float64Array {
  const counts = new Float64Array(ds.catalog.size + 1);
  for (let u = 0; u < ds.users.length; u++) {
    for (const item of ds.train[u]) counts[item]++;
    if (split === "test") counts[ds.val[u]]++;
  }
  counts[0] = 0;
  return counts;
}

export class PopRecommender implements SequentialRecommender {
  readonly name = "pop";
  readonly nItems: number;
  private readonly row: Float32Array;

  constructor(counts: ArrayLike<number>) {
    this.nItems = counts.length - 1;
    this.row = Float32Array.from(counts);
    this.row[0] = 0;
  }

  static fromDataset(ds: SequenceDataset, options: BaselineOptions = {}): PopRecommender {
    return new PopRecommender(itemCounts(ds, options.split ?? "test"));
  }

  async scoreAll(histories: readonly Int32Array[]): Promise<Float32Array> {
    const width = this.nItems + 1;
    const out = new Float32Array(histories.length * width);
    for (let b = 0; b < histories.length; b++) out.set(this.row, b * width);
    return out;
  }
}
