/**
 * The compiled graphs a decoder needs for training and scoring, built per micro-batch shape and kept in a small LRU
 * cache that shares one compute buffer (graphs take turns; see src/engine/README.md "Graphs that take turns").
 *
 * - loss graphs ("train", "accumulate", "eval"): tokens [b, T] -> hidden states -> only the labelled rows -> head ->
 *   weighted cross-entropy (batches.ts explains the rows and weights); when the labelled rows are few (an answer),
 *   the last block runs at them alone (`hiddenAtRows`);
 * - row-logits graphs ("eval"): the logits at chosen positions, e.g. the last position of each prompt (a verbalizer's
 *   scores during validation, next-token log-probabilities).
 * Dropout (LoRA dropout) draws from one Rng shared by every graph, so a checkpoint restores the whole stream.
 */
import { ReclmError } from "../../errors.ts";
import type { Rng } from "../../rng.ts";
import { compile, ComputeAllocator, type AdamW, type Builder, type CompileOptions, type Engine, type GradAccumulator, type Graph, type GraphMode, type ParamStore, type Tensor } from "../../engine/index.ts";
import { LLAMA_OUT_PRODUCTS, llamaAttentionBlocks, llamaHidden, llamaOutputRowsInputs, llamaRowsPayOff, type LlamaModel } from "../llama.ts";
import type { MicroBatch } from "./batches.ts";
import { NativeResource } from "../../engine/index.ts";

/** Graphs kept compiled at once (each holds a ggml context; the compute buffer is shared). */
const MAX_CACHED_GRAPHS = 8;

export interface DecoderGraphsOptions {
  engine: Engine;
  store: ParamStore;
  model: LlamaModel;
  dropoutRng: Rng;
  optimizer?: AdamW;
  accumulator?: GradAccumulator;
  /** The training graphs' OUT_PROD rewrite (`CompileOptions.outProducts`); default LLAMA_OUT_PRODUCTS. */
  outProducts?: CompileOptions["outProducts"];
  /**
   * Whether the last block may run at the labelled rows alone when they are few (`llamaRowsPayOff`): default true;
   * false runs every block at every position, the same values, for comparisons.
   */
  rowPath?: boolean;
}

export class DecoderGraphs extends NativeResource {
  private readonly cache = new Map<string, Graph>();
  private readonly allocator: ComputeAllocator;

  constructor(private readonly o: DecoderGraphsOptions) {
    super();
    this.allocator = new ComputeAllocator(o.engine);
  }

  /**
   * Node budget of a graph over T positions: a llama block is ~60 forward nodes with LoRA, which the backward and the
   * optimizer roughly triple, plus ~40 per attention block (llamaAttentionBlocks) with their backward.
   */
  private maxNodes(T: number): number {
    return Math.max(8192, 2048 + this.o.model.config.layers * (768 + 96 * llamaAttentionBlocks(T)));
  }

  /**
   * One optimizer step over a step's micro-batches: every micro-batch but the last adds its gradients to the
   * accumulator, the last one steps. Returns the step's loss (the mean over its labelled tokens).
   */
  trainStep(batches: readonly MicroBatch[]): number {
    if (!this.o.optimizer) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "DecoderGraphs: training needs an optimizer", { field: "optimizer" });
    if (batches.length > 1 && !this.o.accumulator) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "DecoderGraphs: several micro-batches per step need a gradient accumulator", { field: "accumulator" });
    let loss = 0;
    batches.forEach((mb, i) => {
      loss += this.lossGraph(i === batches.length - 1 ? "train" : "accumulate", mb).run(this.lossInputs(mb)).loss;
    });
    return loss;
  }

  /** The weighted loss of micro-batches without training (weights as packed: the mean over their labelled tokens). */
  evalLoss(batches: readonly MicroBatch[]): number {
    let loss = 0;
    for (const mb of batches) {
      const g = this.lossGraph("eval", mb);
      g.run(this.lossInputs(mb));
      loss += g.read("loss")[0];
    }
    return loss;
  }

  /**
   * Logits [rows.length, V] at flat positions `rows` (b·T indices) of right-padded `tokens` [b, T]. The rows are
   * padded to a power of two inside; only the asked ones are returned.
   */
  rowLogits(tokens: Int32Array, b: number, T: number, rows: Int32Array): Float32Array {
    if (tokens.length !== b * T) throw new ReclmError("RECLM_ERR_SHAPE", `rowLogits: ${tokens.length} tokens for [${b}, ${T}]`, { field: "tokens" });
    let n = 1;
    while (n < rows.length) n *= 2;
    const key = `rows:${b}x${T}:${n}`;
    const rowPath = this.rowPath(T, n);
    const g = this.cached(key, () =>
      compile(this.o.engine, {
        mode: "eval",
        params: this.o.store,
        allocator: this.allocator,
        maxNodes: this.maxNodes(T),
        build: (bd) => {
          const picked = hiddenAtRows(bd, this.o.model, b, T, n, rowPath);
          return { outputs: { logits: bd.linear(picked, this.o.model.params.output) } };
        },
      }),
    );
    const padded = new Int32Array(n);
    padded.set(rows);
    g.run(rowInputs({ b, T, tokens, positions: Int32Array.from({ length: T }, (_, t) => t), rowIndex: padded }, rowPath));
    const V = this.o.model.config.vocabSize;
    return g.read("logits").subarray(0, rows.length * V);
  }

  /**
   * For each prompt, the logits of `tokens` as the next token after its last position (one forward per prompt, no
   * generation): a verbalizer's scores under the current parameters. Prompts are run `batch` at a time, right-padded
   * to a multiple of `lengthBucket`.
   */
  nextTokenLogits(prompts: readonly (readonly number[])[], tokens: readonly number[], options: { batch: number; lengthBucket: number }): Float32Array[] {
    const V = this.o.model.config.vocabSize;
    for (const t of tokens) if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `token ${t} is outside the vocabulary of ${V}`, { field: "tokens" });
    const out: Float32Array[] = new Array(prompts.length);
    // Similar lengths together: less padding per forward.
    const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length || a - b);
    for (let s = 0; s < order.length; s += options.batch) {
      const group = order.slice(s, s + options.batch);
      const b = options.batch;
      const longest = Math.max(...group.map((i) => prompts[i].length));
      if (longest < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "an empty prompt has no position to read the next token at", { field: "prompts" });
      const T = Math.ceil(longest / options.lengthBucket) * options.lengthBucket;
      const ids = new Int32Array(b * T);
      const rows = new Int32Array(group.length);
      group.forEach((pi, slot) => {
        ids.set(prompts[pi], slot * T);
        rows[slot] = slot * T + prompts[pi].length - 1;
      });
      const logits = this.rowLogits(ids, b, T, rows);
      group.forEach((pi, slot) => {
        out[pi] = Float32Array.from(tokens, (t) => logits[slot * V + t]);
      });
    }
    return out;
  }

  /** A micro-batch as the inputs of its loss graph ("train", "accumulate", "eval"), for the row path that graph takes. */
  lossInputs(mb: MicroBatch): Record<string, Int32Array | Float32Array> {
    return { ...rowInputs(mb, this.rowPath(mb.T, mb.rows)), targets: mb.targets, weights: mb.weights };
  }

  private rowPath(T: number, rows: number): boolean {
    return (this.o.rowPath ?? true) && llamaRowsPayOff(rows, T);
  }

  private lossGraph(mode: Extract<GraphMode, "train" | "accumulate" | "eval">, mb: MicroBatch): Graph {
    const { b, T, rows } = mb;
    return this.cached(`${mode}:${b}x${T}:${rows}`, () =>
      compile(this.o.engine, {
        mode,
        params: this.o.store,
        optimizer: mode === "train" ? this.o.optimizer : undefined,
        accumulator: mode === "eval" ? undefined : this.o.accumulator,
        rng: this.o.dropoutRng,
        allocator: this.allocator,
        maxNodes: this.maxNodes(T),
        outProducts: this.o.outProducts ?? LLAMA_OUT_PRODUCTS,
        build: (bd) => {
          const picked = hiddenAtRows(bd, this.o.model, b, T, rows, this.rowPath(T, rows));
          const logits = bd.linear(picked, this.o.model.params.output);
          const loss = bd.crossEntropy(logits, bd.input("targets", [rows], "i32"), { weights: bd.input("weights", [rows]) });
          return mode === "eval" ? { outputs: { loss } } : { loss };
        },
      }),
    );
  }

  private cached(key: string, make: () => Graph): Graph {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "DecoderGraphs was disposed");
    let g = this.cache.get(key);
    if (g && g.stale) {
      g.dispose(); // a bigger graph moved the shared buffer since this one was placed
      this.cache.delete(key);
      g = undefined;
    }
    if (g) {
      // Most recently used last.
      this.cache.delete(key);
      this.cache.set(key, g);
      return g;
    }
    while (this.cache.size >= MAX_CACHED_GRAPHS) {
      const [oldKey, old] = this.cache.entries().next().value as [string, Graph];
      old.dispose();
      this.cache.delete(oldKey);
    }
    g = make();
    this.cache.set(key, g);
    return g;
  }

  /** Bytes of the shared compute buffer (activations and gradients of the biggest graph placed). */
  get computeBytes(): number {
    return this.allocator.bytes;
  }

  protected free(): void {
    for (const g of this.cache.values()) g.dispose();
    this.cache.clear();
    this.allocator.dispose();
  }
}

/**
 * Final hidden states [rows, D] at the flat positions of input "rows" of a [b, T] window (inputs "tokens",
 * "positions"). On the row path the last block runs at those rows alone (`LlamaDecodeOptions.outputRows`; inputs
 * "rowPositions", "rowMask"): the same values and gradients, one block's work less per step for an answer-only loss.
 */
function hiddenAtRows(bd: Builder, model: LlamaModel, b: number, T: number, rows: number, rowPath: boolean): Tensor {
  const tokens = bd.input("tokens", [b, T], "i32");
  const positions = bd.input("positions", [T], "i32");
  const rowIndex = bd.input("rows", [rows], "i32");
  if (rowPath) {
    const outputRows = { rows: rowIndex, positions: bd.input("rowPositions", [rows], "i32"), mask: bd.input("rowMask", [rows, b * T]) };
    return llamaHidden(bd, model, tokens, positions, { outputRows });
  }
  const h = llamaHidden(bd, model, tokens, positions);
  return bd.gatherRows(bd.reshape(h, [b * T, h.shape[2]]), rowIndex);
}

/** The inputs `hiddenAtRows` declares. */
function rowInputs(mb: Pick<MicroBatch, "b" | "T" | "tokens" | "positions" | "rowIndex">, rowPath: boolean): Record<string, Int32Array | Float32Array> {
  const inputs: Record<string, Int32Array | Float32Array> = { tokens: mb.tokens, positions: mb.positions, rows: mb.rowIndex };
  if (rowPath) {
    const { positions, mask } = llamaOutputRowsInputs(mb.rowIndex, mb.b, mb.T, mb.positions);
    inputs.rowPositions = positions;
    inputs.rowMask = mask;
  }
  return inputs;
}

