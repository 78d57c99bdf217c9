/**
 * Training examples and batches, per objective, exactly as docs/model-recipes.md §0/§3/§4 describe them.
 *
 * An example is (user, end, tokenStart) over the user's TRAIN sequence `seq`:
 * - causal (LlamaRec/LRURec `LRUTrainDataset`): labels = seq[max(0, end-maxLen) : end], tokens = seq[tokenStart : end-1],
 *   both left-padded to the window and right-aligned, so the token at a position predicts the label at that position.
 *   A sequence shorter than 2·maxLen is one example (end = len, tokens may start one item before the labels);
 *   longer ones are cut into windows seq[i:i+maxLen], i = len-maxLen, len-2·maxLen, … >= 0 (tokens = window[:-1]).
 * - cloze (BERT4Rec): the same windows; tokens = labels-source = seq[max(0,end-maxLen) : end], masked per batch.
 * - last (NARM/GRU4Rec/Caser): every prefix: tokens = seq[max(0,end-maxLen) : end], label = seq[end], end = 1..len-1.
 */
import type { SequenceDataset } from "../../contracts.ts";
import type { Rng } from "../../rng.ts";
import type { Objective } from "./contract.ts";

export interface ExampleSet {
  readonly users: Int32Array;
  readonly ends: Int32Array;
  readonly tokenStarts: Int32Array;
  readonly length: number;
}

export function buildExamples(ds: SequenceDataset, objective: Objective, maxLen: number): ExampleSet {
  // Counted first, then written into typed arrays: "last" makes one example per interaction, and at 50M interactions
  // three JavaScript number arrays of that length would not fit V8's heap.
  const visit = (emit: (u: number, end: number, start: number) => void) => {
    for (let u = 0; u < ds.train.length; u++) {
      const n = ds.train[u].length;
      if (n === 0) continue;
      if (objective.kind === "last") {
        for (let end = n - 1; end >= 1; end--) emit(u, end, Math.max(0, end - maxLen));
        continue;
      }
      const causal = objective.kind === "causal";
      if (n < 2 * maxLen) {
        emit(u, n, causal ? Math.max(0, n - 1 - maxLen) : Math.max(0, n - maxLen));
      } else {
        for (let i = n - maxLen; i >= 0; i -= maxLen) emit(u, i + maxLen, i);
      }
    }
  };
  let length = 0;
  visit(() => length++);
  const users = new Int32Array(length);
  const ends = new Int32Array(length);
  const tokenStarts = new Int32Array(length);
  let k = 0;
  visit((u, end, start) => {
    users[k] = u;
    ends[k] = end;
    tokenStarts[k] = start;
    k++;
  });
  return { users, ends, tokenStarts, length };
}

/** Host-side arrays of one batch: the graph inputs (SequenceInputs) plus labels. */
export interface BatchArrays {
  /** i32 [B, L] left-padded ids. */
  ids: Int32Array;
  /** f32 [B, L] 1 at real ids. */
  mask: Float32Array;
  /** i32 [B, L] 1-based position from the first real id, 0 at padding. */
  positions: Int32Array;
  /** i32 [B, L] per-position labels (causal/cloze) or [B] (last); 0 = ignored. */
  labels: Int32Array;
}

export function allocBatch(batchSize: number, windowLen: number, objective: Objective): BatchArrays {
  const n = batchSize * windowLen;
  return {
    ids: new Int32Array(n),
    mask: new Float32Array(n),
    positions: new Int32Array(n),
    labels: new Int32Array(objective.kind === "last" ? batchSize : n),
  };
}

/** Writes `tokens` right-aligned into row b (the rest of the row stays 0), then mask and positions. */
function putRow(out: BatchArrays, b: number, L: number, tokens: ArrayLike<number>, from: number, to: number): void {
  const len = Math.min(to - from, L);
  const base = b * L;
  const first = base + L - len;
  for (let j = 0; j < len; j++) out.ids[first + j] = tokens[to - len + j];
  let pos = 0;
  for (let t = base; t < base + L; t++) {
    const real = out.ids[t] > 0;
    out.mask[t] = real ? 1 : 0;
    out.positions[t] = real ? ++pos : 0;
  }
}

/**
 * Fills a batch from examples `idx` (length <= batchSize); the remaining rows stay all padding with label 0, so a
 * final partial batch trains on exactly its examples (the loss is a mean over non-ignored labels).
 * `rng` draws the cloze masks (a fresh masking every time an example is seen, as BERT4Rec's dataset does).
 */
export function fillTrainBatch(
  out: BatchArrays,
  ds: SequenceDataset,
  ex: ExampleSet,
  idx: ArrayLike<number>,
  objective: Objective,
  maxLen: number,
  windowLen: number,
  rng: Rng,
): void {
  clearBatch(out);
  const L = windowLen;
  const nItems = ds.catalog.size;
  for (let b = 0; b < idx.length; b++) {
    const e = idx[b];
    const seq = ds.train[ex.users[e]];
    const end = ex.ends[e];
    const start = ex.tokenStarts[e];
    if (objective.kind === "last") {
      putRow(out, b, L, seq, start, end);
      out.labels[b] = seq[end];
    } else if (objective.kind === "causal") {
      putRow(out, b, L, seq, start, end - 1);
      const lStart = Math.max(0, end - maxLen);
      const n = end - lStart;
      for (let j = 0; j < n; j++) out.labels[b * L + L - n + j] = seq[lStart + j];
    } else {
      const n = Math.min(end - start, L);
      const base = b * L + L - n;
      const maskId = nItems + 1;
      const masked = new Set<number>();
      for (let j = 0; j < n; j++) {
        const item = seq[end - n + j];
        const p = objective.maskProb + (j === n - 1 ? 0.1 * (1 - objective.maskProb) : 0);
        let token = item;
        if (rng.next() < p && !masked.has(item) && masked.size < objective.maxPredictions) {
          masked.add(item);
          const r = rng.next();
          token = r < 0.8 ? maskId : r < 0.9 ? rng.int(1, nItems + 1) : item;
          out.labels[base + j] = item;
        }
        out.ids[base + j] = token;
      }
      putRow(out, b, L, out.ids.subarray(b * L, (b + 1) * L), 0, L);
    }
  }
}

/** The input window of a history at scoring time (cloze appends the mask token, as BERT4Rec's eval does). */
export function fillEvalBatch(
  out: BatchArrays,
  histories: readonly Int32Array[],
  objective: Objective,
  windowLen: number,
  maxLen: number,
  nItems: number,
): void {
  clearBatch(out);
  for (let b = 0; b < histories.length; b++) {
    let h = histories[b];
    if (objective.kind === "cloze") {
      const withMask = new Int32Array(h.length + 1);
      withMask.set(h);
      withMask[h.length] = nItems + 1;
      h = withMask;
    }
    const from = Math.max(0, h.length - maxLen);
    putRow(out, b, windowLen, h, from, h.length);
  }
}

/** Every array of a batch back to 0 (padding, no label). */
export function clearBatch(out: BatchArrays): void {
  out.ids.fill(0);
  out.mask.fill(0);
  out.positions.fill(0);
  out.labels.fill(0);
}
