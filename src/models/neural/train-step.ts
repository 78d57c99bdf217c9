/**
 * One optimizer step of the shared trainer on a filled batch: forward, loss over the positions with a real label,
 * backward, clip, AdamW. The trainer and the throughput benchmark both use it, so the benchmark times the exact step
 * training runs.
 *
 * The loss gathers the rows with a real label BEFORE scoring (label 0 ignored, input 0 not), so padding positions are
 * never projected onto all items. Their count varies per batch; it is rounded up to a multiple of B·L' / ROW_BUCKETS
 * and one train graph is compiled per bucket actually met, all sharing the AdamW state, the dropout stream and ONE
 * compute buffer (sized for the biggest). Rounding up only adds rows with label 0, whose loss and gradient are exactly
 * zero, so the bucket size changes speed, not results; finer buckets waste less of the head's [M, V] work.
 *
 * With `softmax: "sampled"` (./sampled-softmax.ts) the head scores S shared negatives and each row's positive instead
 * of all V items: [M, S + 1] logits plus the log-Q correction, one more input per step.
 *
 * A model that declares `packedRowLength` (LRURec) gets its batch packed first (./packing.ts): the examples laid end
 * to end in R <= B rows, so the encoder skips padding as the head does. R is rounded up to a multiple of
 * B / ROW_BUCKETS (always the default: dropout masks follow R), and graphs are keyed by (R, M).
 */
import { ReclmError } from "../../errors.ts";
import type { Rng } from "../../rng.ts";
import { compile, ComputeAllocator, type AdamW, type Graph } from "../../engine/index.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./contract.ts";
import type { BatchArrays } from "./examples.ts";
import { SequencePacker } from "./packing.ts";
import type { NeuralRecommender } from "./recommender.ts";
import { DEFAULT_NEGATIVES, fillCorrection, type NegativeSampler, type SampledSoftmaxConfig } from "./sampled-softmax.ts";

/** Default number of row-count buckets: at most this many train graphs per model (one shared compute buffer). */
export const ROW_BUCKETS = 16;

export interface TrainStepOptions {
  /** Row-count buckets of the head (default ROW_BUCKETS): at most this many graphs per packed row count. */
  rowBuckets?: number;
  /** The proposal of a sampled softmax (required with `softmax: "sampled"`). */
  sampler?: NegativeSampler;
  /** Pack the batch when the model can take it (default true; false runs the padded batch as it is). */
  pack?: boolean;
}

export class TrainStep<C extends BaseModelConfig = BaseModelConfig, P = unknown> {
  /** Positions the encoder returns per row (L' <= windowLen; the packed row length when packing), 0 for [B, D]. */
  readonly outLen: number;
  /** Encoder rows of the most recent step: B, or the packed rows (after rounding up). */
  lastEncoderRows = 0;
  /** Gathered rows of the most recent step (after rounding up). */
  lastRows = 0;
  /** Rows with a real label in the most recent step (before rounding up). */
  lastLabelled = 0;
  private readonly graphs = new Map<string, Graph>();
  private readonly packer?: SequencePacker;
  private readonly rowQuantum: number;
  private readonly allocator: ComputeAllocator;
  private readonly rows: Int32Array;
  private readonly labels: Int32Array;
  private readonly quantum: number;
  private readonly last: boolean;
  /** Sampled softmax: the shared negatives of a step, the log-Q correction [rows x (S + 1)], the targets. */
  private readonly sampled?: { sampler: NegativeSampler; negatives: Int32Array; correction: Float32Array; targets: Int32Array };

  constructor(
    private readonly def: NeuralModelDefinition<C, P>,
    private readonly model: NeuralRecommender<C, P>,
    private readonly optimizer: AdamW,
    private readonly dropoutRng: Rng,
    options: TrainStepOptions = {},
  ) {
    const { rowBuckets = ROW_BUCKETS, sampler, pack = true } = options;
    if (!Number.isInteger(rowBuckets) || rowBuckets < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `rowBuckets must be a positive integer, got ${rowBuckets}`, { field: "rowBuckets" });
    const config = model.config;
    const L = model.ctx.windowLen;
    const B = config.batchSize;
    this.last = model.objective.kind === "last";
    const packedLen = pack && model.objective.kind === "causal" ? def.packedRowLength?.(config) : undefined;
    if (packedLen !== undefined) {
      this.packer = new SequencePacker(B, L, packedLen);
      this.outLen = packedLen;
    } else {
      this.outLen = model.encoderPositions();
    }
    // Not from `rowBuckets`: the dropout masks follow the encoder's shape, so the packed row count must not depend on
    // the head's bucketing (whose count changes speed, not results).
    this.rowQuantum = this.packer ? Math.ceil(B / ROW_BUCKETS) : B;
    if (!this.last && !this.packer && (this.outLen < config.maxLen || this.outLen > L)) {
      throw new ReclmError("RECLM_ERR_SHAPE", `${def.name}: encoder returns ${this.outLen} positions; need maxLen (${config.maxLen}) to windowLen (${L})`, { field: "encode" });
    }
    if (this.last && this.outLen !== 0) throw new ReclmError("RECLM_ERR_SHAPE", `${def.name}: objective "last" needs the encoder to return [B, D]`, { field: "encode" });
    // Packed or not, a batch holds at most B windows' labels: the gathered rows and the head's quantum count those.
    const total = this.last ? B : B * Math.min(this.outLen, L);
    this.quantum = this.last ? B : Math.ceil(total / rowBuckets);
    this.rows = new Int32Array(total);
    this.labels = new Int32Array(total);
    const sc = config as C & SampledSoftmaxConfig;
    if (sc.softmax === "sampled") {
      if (!sampler) throw new ReclmError("RECLM_ERR_INTERNAL", `${def.name}: softmax "sampled" needs a NegativeSampler`);
      if (sampler.size !== model.nItems) throw new ReclmError("RECLM_ERR_SHAPE", `negative sampler covers ${sampler.size} items, the model ${model.nItems}`, { field: "negatives" });
      const S = sc.negatives ?? DEFAULT_NEGATIVES;
      this.sampled = { sampler, negatives: new Int32Array(S), correction: new Float32Array(total * (S + 1)), targets: new Int32Array(total) };
    }
    this.allocator = new ComputeAllocator(model.engine);
  }

  /**
   * Runs one step on `batch` (from fillTrainBatch) with the optimizer's current lr; returns the loss. A sampled softmax
   * draws the step's negatives from `negativeRng` (derived from the seed and the step, so a resumed run draws alike).
   */
  run(batch: BatchArrays, negativeRng?: Rng): number {
    const { encoderRows: R, rows: M, labelled, inputs: x } = this.gather(batch);
    this.lastEncoderRows = R;
    this.lastRows = M;
    this.lastLabelled = labelled;
    const inputs: Record<string, Int32Array | Float32Array> = { ...x, rows: this.rows.subarray(0, M), labels: this.labels.subarray(0, M) };
    const sp = this.sampled;
    if (sp) {
      if (!negativeRng) throw new ReclmError("RECLM_ERR_INTERNAL", "a sampled-softmax step needs the step's random stream");
      sp.sampler.draw(negativeRng, sp.negatives);
      const S = sp.negatives.length;
      fillCorrection(sp.sampler, sp.negatives, this.labels, M, sp.correction, sp.targets);
      inputs.negatives = sp.negatives;
      inputs.correction = sp.correction.subarray(0, M * (S + 1));
      inputs.targets = sp.targets.subarray(0, M);
    }
    return this.graph(R, M).run(inputs).loss;
  }

  /**
   * Compiles, without running, the train graphs these batches will need, so that none is stale afterwards (no later
   * placement moves the shared buffer). Returns how many compiles that took. Training compiles lazily; a benchmark
   * that times steps calls this first so its timed steps are steady-state ones.
   */
  prepare(batches: readonly BatchArrays[]): number {
    const shapes = new Map<string, [number, number]>();
    for (const batch of batches) {
      const { encoderRows: R, rows: M } = this.gather(batch);
      shapes.set(`${R}x${M}`, [R, M]);
    }
    // Largest first; which shape needs the biggest buffer depends on the model (encoder rows vs scored rows), so a
    // second pass compiles again whatever a later, bigger one displaced: after it, the buffer no longer grows.
    const order = [...shapes.values()].sort((a, b) => b[0] - a[0] || b[1] - a[1]);
    let compiled = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const [R, M] of order) {
        const had = this.graphs.get(`${R}x${M}`);
        if (had && !had.stale) continue;
        this.graph(R, M);
        compiled++;
      }
    }
    return compiled;
  }

  /**
   * Packs the batch when packing (the encoder then sees R packed rows, rounded up to the row quantum), and fills
   * rows/labels with the positions that carry a real label; returns R, the labelled count, and M, the count rounded up
   * to the quantum (the rows the graph scores), with the encoder's inputs.
   */
  private gather(batch: BatchArrays): { encoderRows: number; rows: number; labelled: number; inputs: Record<string, Int32Array | Float32Array> } {
    const B = this.model.config.batchSize;
    if (this.last) {
      let n = 0;
      for (let b = 0; b < B; b++) {
        this.rows[b] = b;
        this.labels[b] = batch.labels[b];
        if (batch.labels[b] !== 0) n++;
      }
      return { encoderRows: B, rows: B, labelled: n, inputs: { ids: batch.ids, mask: batch.mask, positions: batch.positions } };
    }
    let R = B;
    let L = this.model.ctx.windowLen;
    let src: BatchArrays = batch;
    let inputs: Record<string, Int32Array | Float32Array> = { ids: batch.ids, mask: batch.mask, positions: batch.positions };
    if (this.packer) {
      const p = this.packer.out;
      L = this.packer.rowLength;
      R = Math.min(B, Math.ceil(this.packer.pack(batch) / this.rowQuantum) * this.rowQuantum);
      src = p;
      const n = R * L;
      inputs = { ids: p.ids.subarray(0, n), mask: p.mask.subarray(0, n), positions: p.positions.subarray(0, n), segments: p.segments.subarray(0, n) };
    }
    const outLen = this.outLen;
    const skip = L - outLen; // window positions the encoder does not return (left of the window: always padding)
    let n = 0;
    for (let b = 0; b < R; b++) {
      for (let t = skip; t < L; t++) {
        const y = src.labels[b * L + t];
        if (y === 0) continue;
        this.rows[n] = b * outLen + (t - skip);
        this.labels[n] = y;
        n++;
      }
    }
    const M = Math.min(this.rows.length, Math.max(this.quantum, Math.ceil(n / this.quantum) * this.quantum));
    this.rows.fill(0, n, M);
    this.labels.fill(0, n, M);
    return { encoderRows: R, rows: M, labelled: n, inputs };
  }

  private graph(R: number, M: number): Graph {
    const key = `${R}x${M}`;
    let g = this.graphs.get(key);
    if (g && !g.stale) return g;
    g?.dispose(); // a bigger graph moved the shared buffer since this one was placed
    const { def, model } = this;
    const config = model.config;
    const packed = this.packer !== undefined;
    const L = packed ? this.outLen : model.ctx.windowLen;
    g = compile(model.engine, {
      mode: "train",
      params: model.store,
      optimizer: this.optimizer,
      rng: this.dropoutRng,
      allocator: this.allocator,
      build: (b) => {
        const x = {
          ids: b.input("ids", [R, L], "i32"),
          mask: b.input("mask", [R, L]),
          positions: b.input("positions", [R, L], "i32"),
          ...(packed ? { segments: b.input("segments", [R, L]) } : {}),
        };
        const h = def.encode(b, model.params, x, model.ctx, config); // [R, L', D] or [B, D]
        if (packed && (h.rank !== 3 || h.shape[1] !== L)) {
          throw new ReclmError("RECLM_ERR_SHAPE", `${def.name}: a packed encoder must return every position of its ${L}-wide rows, got [${h.shape}]`, { field: "packedRowLength" });
        }
        const D = h.shape[h.rank - 1];
        const flat = h.rank === 3 ? b.reshape(h, [R * h.shape[1], D]) : h; // [R·L', D]
        const rows = b.input("rows", [M], "i32");
        const labels = b.input("labels", [M], "i32");
        const picked = b.gatherRows(flat, rows); // [M, D]
        if (this.sampled) {
          const S = this.sampled.negatives.length;
          const negatives = b.input("negatives", [S], "i32");
          const correction = b.input("correction", [M, S + 1]);
          const targets = b.input("targets", [M], "i32");
          // [M, S + 1]: the negatives' scores, then each row's positive; log-Q corrected, accidental hits masked
          const logits = def.scores(b, model.params, picked, { ...model.ctx, sampledColumns: { negatives, positives: labels } }, config);
          return { loss: b.crossEntropy(b.add(logits, correction), targets, { ignoreIndex: -1 }) };
        }
        // [M, V'], V' >= V: the head's padding columns (./head.ts) score −1e9 and never hold a label
        const logits = def.scores(b, model.params, picked, { ...model.ctx, padScoreColumns: true }, config);
        return { loss: b.crossEntropy(logits, labels, { ignoreIndex: 0 }) };
      },
    });
    this.graphs.set(key, g);
    return g;
  }

  /** True once `dispose()` freed its graphs and compute buffer. */
  get disposed(): boolean {
    return this.allocator.disposed;
  }

  /** Lets `using` free it at the end of a scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const g of this.graphs.values()) g.dispose();
    this.graphs.clear();
    this.allocator.dispose();
  }
}
