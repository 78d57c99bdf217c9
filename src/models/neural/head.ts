/**
 * The output head every model ends with: scores of hidden rows against a matrix with one row per output column
 * (the tied item embedding, or an output layer's weight), plus an optional per-column bias.
 *
 * Why the padding: ggml's fast f32 matmul (llamafile tinyBLAS, AVX-512 here) only takes an inner dimension that is a
 * multiple of 16, and the head's backward multiplies the logits' gradient by W with the column count V as that inner
 * dimension. With V = 3,417 (ML-1M) or 3,651 (ml-latest-small) it fell back to ggml's generic loop, which cost about
 * 30% of the head (src/engine/README.md). So in training graphs (`ctx.padScoreColumns`) W gets zero rows up to a
 * multiple of 16 and those columns a fixed −1e9 score: their softmax probability is exactly 0 in f32, so the loss and
 * every gradient are those of the V real columns; labels never point at them. Eval graphs score exactly V columns.
 */
import type { Builder, Tensor } from "../../engine/index.ts";
import type { ModelContext } from "./contract.ts";

/** ggml's f32 sgemm needs inner dimensions in multiples of this (AVX-512: 16 lanes). */
export const SCORE_COLUMN_MULTIPLE = 16;
/** The score of a padding column: exp(−1e9 − max) underflows to exactly 0. */
const PAD_SCORE = -1e9;

/**
 * h [R, K] · Wᵀ (+ bias) with W [V, K], bias [V] → [R, V], or [R, V'] with V' = V rounded up in training graphs, or
 * with `ctx.sampledColumns` the sampled softmax's [R, S + 1]: the S shared negatives' columns, then each row's own.
 * With `ctx.headCapture` nothing is scored: the operands are recorded there and `h` returned.
 */
export function headScores(b: Builder, ctx: ModelContext, h: Tensor, W: Tensor, bias?: Tensor): Tensor {
  if (ctx.headCapture) {
    Object.assign(ctx.headCapture, { h, W, bias });
    return h;
  }
  if (ctx.sampledColumns) return sampledScores(b, h, W, bias, ctx.sampledColumns);
  const [V, K] = W.shape;
  const pad = ctx.padScoreColumns ? (SCORE_COLUMN_MULTIPLE - (V % SCORE_COLUMN_MULTIPLE)) % SCORE_COLUMN_MULTIPLE : 0;
  if (pad === 0) {
    const logits = b.matmulNT(h, W);
    return bias ? b.add(logits, bias) : logits;
  }
  const logits = b.matmulNT(h, b.concat([W, b.constant(0, [pad, K])], 0)); // [R, V + pad]
  if (bias) return b.add(logits, b.concat([bias, b.constant(PAD_SCORE, [pad])], 0));
  const columns = new Float32Array(V + pad);
  columns.fill(PAD_SCORE, V);
  return b.add(logits, b.constant(columns, [V + pad]));
}

/** Only the columns a sampled softmax needs: O(R·S·K) instead of O(R·V·K). The gathers' backward scatters into W. */
function sampledScores(b: Builder, h: Tensor, W: Tensor, bias: Tensor | undefined, cols: { negatives: Tensor; positives: Tensor }): Tensor {
  const [V] = W.shape;
  const [S] = cols.negatives.shape;
  const [R] = cols.positives.shape;
  let neg = b.matmulNT(h, b.gatherRows(W, cols.negatives)); // [R, S]
  let pos = b.sumRows(b.mul(h, b.gatherRows(W, cols.positives))); // [R, 1]
  if (bias) {
    const column = b.reshape(bias, [V, 1]);
    neg = b.add(neg, b.reshape(b.gatherRows(column, cols.negatives), [S]));
    pos = b.add(pos, b.reshape(b.gatherRows(column, cols.positives), [R, 1]));
  }
  return b.concat([neg, pos], 1); // [R, S + 1]
}
