/**
 * Sampled softmax with log-Q correction, the training option for catalogs where the full softmax's [rows x V]
 * logits do not fit in memory or time (config `softmax: "sampled"`; the papers' full softmax stays the default).
 *
 * Each step draws S items (`negatives`, with replacement, shared by every row of the batch) from a proposal q: item
 * popularity in the training sequences, (count + 1)^0.75 (word2vec's unigram^0.75, "popularity"), or "uniform". Each
 * row scores its own positive and the S negatives only, and every score s is corrected to s - log(S·q(item)) (Jean et
 * al. 2015; TensorFlow's sampled_softmax_loss): the expected count of the item in the sample, so popular items, drawn
 * more often, are not pushed down more than the full softmax would push them. A negative equal to the row's
 * positive ("accidental hit") is masked out. The loss is then the cross-entropy over those S + 1 columns.
 *
 * When to switch: the head's cost is rows x V x D per step against rows x S x D, and its logits rows x V floats.
 * Below ~10k items (ML-1M's 3,416) the full softmax fits and its gradient is exact; the encoder's share of the step
 * bounds the speed-up. Past ~50k items, or when rows x V x 4 bytes x ~3 (logits, softmax, gradient) exceeds the
 * memory you have, use `--set softmax=sampled` (and `negatives`: more is closer to the full softmax and slower;
 * 512-2048 is the usual range). bench/results/sampled-softmax.json measures both on ML-1M.
 */
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import type { Rng } from "../../rng.ts";

/** The config fields of the option (validated in config.ts's EXTRA_SCHEMA). */
export interface SampledSoftmaxConfig {
  /** "full" (default): every item a column. "sampled": `negatives` shared sampled columns plus each row's own. */
  softmax?: "full" | "sampled";
  /** Negatives drawn per step (default 1024; a multiple of 16 keeps ggml's fast matmul). */
  negatives?: number;
  /** The proposal q: "popularity" ((count + 1)^0.75 over the training sequences, default) or "uniform". */
  negativeSampler?: "popularity" | "uniform";
}

export const DEFAULT_NEGATIVES = 1024;

/** Walker's alias method: O(1) draws from a fixed distribution over items 1..N (item 0, padding, never drawn). */
export class NegativeSampler {
  /** q(i) for i in 0..N (q(0) = 0). */
  readonly q: Float64Array;
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: Float64Array) {
    const n = weights.length - 1;
    if (n < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a sampled softmax needs at least one item", { field: "negatives" });
    let total = 0;
    for (let i = 1; i <= n; i++) {
      if (!(weights[i] > 0) || !Number.isFinite(weights[i])) throw new ReclmError("RECLM_ERR_INTERNAL", `negative sampler: weight of item ${i} is ${weights[i]}`);
      total += weights[i];
    }
    this.q = new Float64Array(n + 1);
    for (let i = 1; i <= n; i++) this.q[i] = weights[i] / total;
    // Vose's construction over slots 0..n-1 (slot k is item k + 1).
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = Float64Array.from({ length: n }, (_, k) => this.q[k + 1] * n);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, k) => (p < 1 ? small : large).push(k));
    while (small.length && large.length) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const k of [...small, ...large]) {
      this.prob[k] = 1;
      this.alias[k] = k;
    }
  }

  /** The proposal for a dataset's catalog: popularity in its training sequences, or uniform. */
  static forDataset(ds: SequenceDataset, kind: "popularity" | "uniform" = "popularity"): NegativeSampler {
    const n = ds.catalog.size;
    const w = new Float64Array(n + 1);
    if (kind === "uniform") w.fill(1, 1);
    else {
      for (const seq of ds.train) for (const i of seq) w[i]++;
      for (let i = 1; i <= n; i++) w[i] = Math.pow(w[i] + 1, 0.75);
    }
    return new NegativeSampler(w);
  }

  get size(): number {
    return this.q.length - 1;
  }

  /** Fills `out` with item ids drawn from q, with replacement. */
  draw(rng: Rng, out: Int32Array): void {
    const n = this.prob.length;
    for (let j = 0; j < out.length; j++) {
      const k = Math.floor(rng.next() * n);
      out[j] = (rng.next() < this.prob[k] ? k : this.alias[k]) + 1;
    }
  }
}

/** The score a masked column gets: exp underflows to exactly 0 against any real score. */
const MASKED = -1e9;

/**
 * The per-row additive term for the [rows x (S + 1)] sampled logits: −log(S·q) of each negative (−1e9 where it is
 * the row's own positive), then −log(S·q) of the row's positive; rows whose label is 0 (ignored) get 0s. Also writes
 * the cross-entropy targets: S (the positive's column) for labelled rows, −1 (ignored) for the others.
 */
export function fillCorrection(sampler: NegativeSampler, negatives: Int32Array, labels: Int32Array, rows: number, correction: Float32Array, targets: Int32Array): void {
  const S = negatives.length;
  const width = S + 1;
  const negTerm = new Float32Array(S);
  const where = new Map<number, number[]>();
  for (let j = 0; j < S; j++) {
    negTerm[j] = -Math.log(S * sampler.q[negatives[j]]);
    const at = where.get(negatives[j]);
    if (at) at.push(j);
    else where.set(negatives[j], [j]);
  }
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    const base = r * width;
    if (y === 0) {
      correction.fill(0, base, base + width);
      targets[r] = -1;
      continue;
    }
    correction.set(negTerm, base);
    for (const j of where.get(y) ?? []) correction[base + j] = MASKED;
    correction[base + S] = -Math.log(S * sampler.q[y]);
    targets[r] = S;
  }
}
