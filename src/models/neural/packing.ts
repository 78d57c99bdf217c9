/**
 * Sequence packing for training: the examples of a batch, each LEFT-padded to the window in `BatchArrays`, laid end
 * to end in fewer rows, so the encoder stops computing on padding.
 *
 * Why: a causal batch row holds one user's window, and most users are shorter than it (ML-1M with LRURec: 14,400
 * labelled positions of 128 × 256 padded ones, 44%; Beauty's ~8-item histories in 64-wide rows, ~13%). The head
 * already scores only labelled rows (train-step.ts); packing does the same for the encoder. Only a model whose
 * encoder can keep the examples of one row apart declares `packedRowLength` (LRURec: its scan drops a carry that
 * crosses a segment boundary); for it the loss and gradients are those of the unpacked batch, up to float rounding
 * (test/models/neural/packing.test.ts).
 *
 * Layout: an example's span is its window from its first position holding an item or a label to the end (a causal
 * window's first label may sit one position before its first item: the first item predicted from an empty history,
 * as the authors' LRUTrainDataset does). Spans go longest first into the first row with room (first-fit
 * decreasing). In a row, segment k (1-based) holds the k-th span placed there; the row's unused tail is one more
 * segment of padding. `segments` are f32 so the encoder can compare them with graph arithmetic.
 */
import { ReclmError } from "../../errors.ts";
import { clearBatch, type BatchArrays } from "./examples.ts";

export interface PackedBatch extends BatchArrays {
  /** f32 [R, Lr]: the segment each position belongs to (1, 2, … in a row; the padding tail one more). */
  segments: Float32Array;
}

export class SequencePacker {
  /** The packed arrays, `maxRows` rows of `rowLength`; a step uses the first `rows` of them. */
  readonly out: PackedBatch;
  private readonly order: Int32Array;
  private readonly spanLen: Int32Array;
  private readonly used: Int32Array;
  private readonly segCount: Int32Array;

  constructor(
    /** Rows (examples) of the unpacked batch. */
    readonly maxRows: number,
    /** Positions per unpacked row (the model's window). */
    readonly windowLen: number,
    /** Positions per packed row (>= windowLen: every span fits one row). */
    readonly rowLength: number,
  ) {
    if (!(Number.isInteger(rowLength) && rowLength >= windowLen)) {
      throw new ReclmError("RECLM_ERR_SHAPE", `packed rows of ${rowLength} positions cannot hold windows of ${windowLen}`, { field: "packedRowLength" });
    }
    const n = maxRows * rowLength;
    this.out = { ids: new Int32Array(n), mask: new Float32Array(n), positions: new Int32Array(n), labels: new Int32Array(n), segments: new Float32Array(n) };
    this.order = new Int32Array(maxRows);
    this.spanLen = new Int32Array(maxRows);
    this.used = new Int32Array(maxRows);
    this.segCount = new Int32Array(maxRows);
  }

  /** Packs `batch` ([maxRows, windowLen], per-position labels) into `out`; returns the rows used (at least 1). */
  pack(batch: BatchArrays): number {
    const { maxRows: B, windowLen: L, rowLength: Lr, out } = this;
    let spans = 0;
    for (let b = 0; b < B; b++) {
      let s = b * L;
      const end = s + L;
      while (s < end && batch.ids[s] === 0 && batch.labels[s] === 0) s++;
      this.spanLen[b] = end - s;
      if (end > s) this.order[spans++] = b;
    }
    const order = Array.from(this.order.subarray(0, spans)).sort((x, y) => this.spanLen[y] - this.spanLen[x] || x - y);
    let rows = 0;
    this.used.fill(0);
    this.segCount.fill(0);
    clearBatch(out);
    // Rows past the last used one (the trainer rounds the row count up) are one padding segment.
    out.segments.fill(1);
    for (const b of order) {
      const len = this.spanLen[b];
      let r = 0;
      while (r < rows && this.used[r] + len > Lr) r++;
      if (r === rows) rows++;
      const from = b * L + L - len;
      const to = r * Lr + this.used[r];
      out.ids.set(batch.ids.subarray(from, from + len), to);
      out.mask.set(batch.mask.subarray(from, from + len), to);
      out.positions.set(batch.positions.subarray(from, from + len), to);
      out.labels.set(batch.labels.subarray(from, from + len), to);
      out.segments.fill(++this.segCount[r], to, to + len);
      this.used[r] += len;
    }
    rows = Math.max(rows, 1);
    for (let r = 0; r < rows; r++) out.segments.fill(this.segCount[r] + 1, r * Lr + this.used[r], (r + 1) * Lr);
    return rows;
  }
}
