/**
 * Cooc: an item-to-item next-item transition baseline (a first-order Markov chain on counts).
 *
 * Learning: count a -> b whenever b directly follows a in a user's visible sequence (split "val": train[u];
 * split "test": train[u] + val[u], so the last train item -> val item transition counts; test items never do).
 *
 * Scoring a history h = [.., h_{L-2}, h_{L-1}]:
 *   score(b) = sum_{j=0}^{window-1} decay^j * T[h_{L-1-j}][b]  +  tieBreak * pop(b) / max(pop)
 * With the default window = 1 this is the transition count from the last item. The popularity term is a tie-breaker:
 * tieBreak defaults to 0.5 * decay^(window-1) (half the smallest window weight), so with window 1 it only orders items
 * with equal transition counts (and orders all items by popularity when the last item has no recorded successor);
 * with window > 1 it may reorder decayed sums that differ by less than that. Float32 rows limit its resolution to
 * about 7 significant digits of the largest score.
 */
import type { EvalSplit, SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { itemCounts, type BaselineOptions } from "./pop.ts";

export interface CoocConfig {
  /** How many of the history's last items vote. Defaults to 1. */
  window?: number;
  /** Weight of the j-th item from the end is decay^j. Defaults to 0.5. */
  decay?: number;
  /** Weight of the normalised popularity tie-breaker. Defaults to 0.5 * decay^(window - 1). */
  tieBreak?: number;
}

/** Sparse transition counts in CSR form: successors of item a are dst[offsets[a] .. offsets[a+1]), sorted by id. */
export interface Transitions {
  offsets: Int32Array;
  dst: Int32Array;
  count: Float32Array;
}

export function transitionCounts(ds: SequenceDataset, split: EvalSplit): Transitions {
  const n = ds.catalog.size;
  const perSource = new Map<number, Map<number, number>>();
  const add = (a: number, b: number) => {
    let m = perSource.get(a);
    if (!m) perSource.set(a, (m = new Map()));
    m.set(b, (m.get(b) ?? 0) + 1);
  };
  for (let u = 0; u < ds.users.length; u++) {
    const seq = ds.train[u];
    for (let t = 1; t < seq.length; t++) add(seq[t - 1], seq[t]);
    if (split === "test" && seq.length > 0) add(seq[seq.length - 1], ds.val[u]);
  }
  const offsets = new Int32Array(n + 2);
  for (let a = 0; a <= n; a++) offsets[a + 1] = offsets[a] + (perSource.get(a)?.size ?? 0);
  const dst = new Int32Array(offsets[n + 1]);
  const count = new Float32Array(offsets[n + 1]);
  for (let a = 0; a <= n; a++) {
    const m = perSource.get(a);
    if (!m) continue;
    // Sorted successor ids: canonical order, never Map insertion order.
    const succ = [...m.keys()].sort((x, y) => x - y);
    succ.forEach((b, j) => {
      dst[offsets[a] + j] = b;
      count[offsets[a] + j] = m.get(b) as number;
    });
  }
  return { offsets, dst, count };
}

export class CoocRecommender implements SequentialRecommender {
  readonly name = "cooc";
  readonly nItems: number;
  readonly window: number;
  /** The last `window` items vote; older ones change nothing. */
  get inputWindow(): number {
    return this.window;
  }
  readonly decay: number;
  readonly tieBreak: number;
  private readonly transitions: Transitions;
  private readonly popRow: Float32Array;

  constructor(transitions: Transitions, popularity: ArrayLike<number>, config: CoocConfig = {}) {
    this.nItems = popularity.length - 1;
    this.window = config.window ?? 1;
    this.decay = config.decay ?? 0.5;
    if (!Number.isInteger(this.window) || this.window < 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cooc window must be a positive integer, got ${this.window}`, { field: "window" });
    }
    if (!(this.decay > 0 && this.decay <= 1)) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cooc decay must be in (0, 1], got ${this.decay}`, { field: "decay" });
    }
    this.tieBreak = config.tieBreak ?? 0.5 * this.decay ** (this.window - 1);
    this.transitions = transitions;
    let max = 0;
    for (let i = 1; i < popularity.length; i++) max = Math.max(max, popularity[i]);
    this.popRow = new Float32Array(popularity.length);
    if (max > 0) for (let i = 1; i < popularity.length; i++) this.popRow[i] = (this.tieBreak * popularity[i]) / max;
  }

  static fromDataset(ds: SequenceDataset, options: BaselineOptions & CoocConfig = {}): CoocRecommender {
    const split = options.split ?? "test";
    return new CoocRecommender(transitionCounts(ds, split), itemCounts(ds, split), options);
  }

  async scoreAll(histories: readonly Int32Array[]): Promise<Float32Array> {
    const width = this.nItems + 1;
    const out = new Float32Array(histories.length * width);
    const { offsets, dst, count } = this.transitions;
    for (let b = 0; b < histories.length; b++) {
      const h = histories[b];
      const row = out.subarray(b * width, (b + 1) * width);
      row.set(this.popRow);
      let weight = 1;
      for (let j = 0; j < this.window && j < h.length; j++, weight *= this.decay) {
        const a = h[h.length - 1 - j];
        if (a < 1 || a > this.nItems) {
          throw new ReclmError("RECLM_ERR_UNKNOWN_ITEM", `history item ${a} is outside 1..${this.nItems}`, { field: "histories" });
        }
        for (let e = offsets[a]; e < offsets[a + 1]; e++) row[dst[e]] += weight * count[e];
      }
    }
    return out;
  }
}
