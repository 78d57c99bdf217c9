/**
 * Language-model training examples and how they become micro-batches for the decoder.
 *
 * An example is a token sequence and which of its tokens carry the loss: token i (i >= 1) is predicted from the
 * hidden state at position i - 1, and counts when `labelled[i]` is 1. Pretraining labels every token after the first;
 * fine-tuning labels only the answer (a letter and EOS, or a title and its newline).
 *
 * A micro-batch is right-padded to one length (rounded up to `lengthBucket`, so few graph shapes exist): with causal
 * attention a real position never attends to the padding after it, so every real position computes what it would
 * alone, and padding positions are never labelled. Only the labelled positions' hidden states reach the vocabulary
 * head (their count rounded up to a power of two, extra rows weighted 0), so a 2-token answer does not pay for a
 * [T, V] head. Each labelled row is weighted 1 / (labelled tokens of the whole optimizer step), so the micro-batches'
 * losses (and, accumulated, their gradients) add up to the mean over the step's labelled tokens.
 */
import { ReclmError } from "../../errors.ts";

export interface LmExample {
  tokens: ArrayLike<number>;
  /** 1 where token i is a target (never at i = 0); default: every token after the first. */
  labelled?: ArrayLike<number>;
}

/** Examples addressed by index, built on demand (a fine-tuning set can hold ~100k prompts). */
export interface LmExampleSource {
  readonly length: number;
  example(i: number): LmExample;
}

export function exampleArray(examples: readonly LmExample[]): LmExampleSource {
  return { length: examples.length, example: (i) => examples[i] };
}

/** One micro-batch as graph inputs: tokens [b, T], and the labelled rows (flat b·T indices of the predicting positions). */
export interface MicroBatch {
  b: number;
  T: number;
  /** Rows the head scores, rounded up (the extra ones have weight 0). */
  rows: number;
  tokens: Int32Array;
  positions: Int32Array;
  rowIndex: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  /** Labelled tokens in this micro-batch. */
  labelled: number;
  /** Real (non-padding) tokens in this micro-batch. */
  realTokens: number;
}

export interface PackOptions {
  /** Examples per micro-batch (the graph's batch dimension; a short last one is padded with empty rows). */
  microBatch: number;
  /** Sequence lengths are rounded up to a multiple of this (fewer compiled graph shapes). */
  lengthBucket: number;
  /** Longest sequence the model may see (its context). */
  maxLength: number;
  vocabSize: number;
}

/** The labelled target positions of an example (indices i >= 1), checked. */
function labelledPositions(ex: LmExample, where: string, vocabSize: number, maxLength: number): number[] {
  const n = ex.tokens.length;
  if (n < 2) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${where}: a training sequence needs at least 2 tokens, got ${n}`, { field: "tokens" });
  if (n > maxLength) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${where}: ${n} tokens exceed the model's context of ${maxLength}`, { field: "tokens" });
  for (let i = 0; i < n; i++) {
    const t = ex.tokens[i];
    if (!(Number.isInteger(t) && t >= 0 && t < vocabSize)) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${where}: token ${t} at position ${i} is outside the vocabulary of ${vocabSize}`, { field: "tokens" });
  }
  const out: number[] = [];
  if (!ex.labelled) {
    for (let i = 1; i < n; i++) out.push(i);
    return out;
  }
  if (ex.labelled.length !== n) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${where}: labelled has ${ex.labelled.length} entries for ${n} tokens`, { field: "labelled" });
  if (ex.labelled[0]) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${where}: the first token cannot be a target (nothing precedes it)`, { field: "labelled" });
  for (let i = 1; i < n; i++) if (ex.labelled[i]) out.push(i);
  return out;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Micro-batches of one optimizer step: the examples sorted by length (less padding; the step's gradient is a sum, so
 * order does not change it), cut into groups of `microBatch`, each padded to its own bucketed length.
 */
export function packStep(examples: readonly LmExample[], o: PackOptions, where = "example"): MicroBatch[] {
  if (!(Number.isInteger(o.microBatch) && o.microBatch > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `microBatch must be a positive integer, got ${o.microBatch}`, { field: "microBatch" });
  if (!(Number.isInteger(o.lengthBucket) && o.lengthBucket > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `lengthBucket must be a positive integer, got ${o.lengthBucket}`, { field: "lengthBucket" });
  const labelled = examples.map((ex, i) => labelledPositions(ex, `${where} ${i}`, o.vocabSize, o.maxLength));
  const total = labelled.reduce((s, l) => s + l.length, 0);
  if (total === 0) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${where}: no labelled token in the step's ${examples.length} examples`, { field: "labelled" });
  const order = examples.map((_, i) => i).sort((a, b) => examples[a].tokens.length - examples[b].tokens.length || a - b);
  const out: MicroBatch[] = [];
  for (let s = 0; s < order.length; s += o.microBatch) {
    const group = order.slice(s, s + o.microBatch);
    const b = o.microBatch;
    const longest = Math.max(...group.map((i) => examples[i].tokens.length));
    const T = Math.min(Math.ceil(longest / o.lengthBucket) * o.lengthBucket, Math.max(longest, o.maxLength));
    const n = group.reduce((acc, i) => acc + labelled[i].length, 0);
    const rows = Math.min(b * T, Math.max(8, nextPowerOfTwo(n)));
    const mb: MicroBatch = {
      b,
      T,
      rows,
      tokens: new Int32Array(b * T),
      positions: Int32Array.from({ length: T }, (_, t) => t),
      rowIndex: new Int32Array(rows),
      targets: new Int32Array(rows),
      weights: new Float32Array(rows),
      labelled: n,
      realTokens: 0,
    };
    let r = 0;
    group.forEach((ei, slot) => {
      const ex = examples[ei];
      for (let t = 0; t < ex.tokens.length; t++) mb.tokens[slot * T + t] = ex.tokens[t];
      mb.realTokens += ex.tokens.length;
      for (const i of labelled[ei]) {
        mb.rowIndex[r] = slot * T + i - 1;
        mb.targets[r] = ex.tokens[i];
        mb.weights[r] = 1 / total;
        r++;
      }
    });
    out.push(mb);
  }
  return out;
}
