import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { Builder, type GraphMode, type HiddenInput } from "./builder.ts";
import type { Engine } from "./engine.ts";
import { ComputeAllocator } from "./compute-allocator.ts";
import { fillDropoutMask } from "./dropout-mask.ts";
import { GGML_TYPE, isContiguousNative, tensorHasBuffer, tensorLayout, type Ptr } from "./ffi/ggml.ts";
import { outProductsAsMatmuls } from "./outprod-rewrite.ts";
import type { AdamW, GradAccumulator } from "./optim.ts";
import type { Param, ParamStore } from "./params.ts";
import { Tensor, fmt } from "./tensor.ts";
import { NativeResource } from "./native-resource.ts";

export interface BuildResult {
  /** Scalar loss; required in "grad" and "train" graphs. */
  loss?: Tensor;
  /** Tensors to read back after `run` with `graph.read(name)`. */
  outputs?: Record<string, Tensor>;
}

export interface CompileOptions {
  /**
   * "eval": forward only, dropout off. "grad": forward + backward, gradients readable. "train": + clipping + AdamW
   * step. "accumulate": forward + backward, gradients added into `accumulator` (no step).
   */
  mode: GraphMode;
  /** The parameters the graph may use (must be initialized). */
  params: ParamStore;
  /** The model, written once with builder ops. Runs exactly once, at compile time. */
  build: (b: Builder) => BuildResult;
  /** Required for "train". */
  optimizer?: AdamW;
  /**
   * Gradient accumulation: required for "accumulate" (gradients are added into it); optional for "train", where the
   * step then uses (this graph's gradients + the accumulated ones) and zeroes the accumulator after it.
   */
  accumulator?: GradAccumulator;
  /** Source of dropout masks (seeded). Default new Rng(0). */
  rng?: Rng;
  /** Capacity of the ggml context / graph in tensors. Default 32768; raise it for long unrolled recurrences. */
  maxNodes?: number;
  /**
   * A compute buffer shared with other graphs that never run at the same time (e.g. one train graph per batch-row
   * count): the buffer is sized for the biggest of them instead of one buffer each. Their tensors overlap in it, so
   * only the graph that ran last may be read, and a graph whose placement grew the buffer leaves the graphs placed
   * before it `stale` (compile them again). Default: a buffer of its own.
   */
  allocator?: ComputeAllocator;
  /**
   * How a training graph's OUT_PROD gradients are turned into MUL_MATs (src/engine/outprod-rewrite.ts): one is rewritten
   * when it has at least `minMacsPerCopy` multiply-adds per element the rewrite copies. Default MIN_MACS_PER_COPY
   * (measured on the retrievers); a decoder's attention gains from a lower one (DecoderGraphs).
   */
  outProducts?: { minMacsPerCopy?: number };
}

export interface RunOptions {
  /** Keep the dropout masks of the previous run instead of drawing new ones (gradient checks). */
  keepDropoutMasks?: boolean;
}

export interface RunResult {
  /** The loss value, NaN when the graph has no loss. */
  loss: number;
  /** Global gradient L2 norm before clipping ("train" graphs only). */
  gradNorm?: number;
}

type InputData = Float32Array | Int32Array;

/** One node of `Graph.profile`: ggml op name (unary ops by their own name), ggml-order shape `ne`, time. */
export interface NodeProfile {
  index: number;
  op: string;
  ne: number[];
  ms: number;
  cpuMs: number;
}

/**
 * One compiled ggml graph for one batch shape, built ONCE and reused: each `run` copies inputs in and computes.
 * Holds its own context and compute buffer; call `dispose()` (or reuse it) — nothing is freed by GC.
 */
export class Graph extends NativeResource {
  readonly mode: GraphMode;
  readonly nodeCount: number;
  /** Bytes of the compute buffer (activations, gradients). */
  readonly computeBytes: number;
  private readonly engine: Engine;
  private readonly store: ParamStore;
  private readonly ctx: Ptr;
  /** Where the compute buffer lives: `options.allocator`, or one of its own (then owned, freed with the graph). */
  private readonly allocator: ComputeAllocator;
  private readonly ownsAllocator: boolean;
  private readonly generation: number;
  private gf: Ptr;
  private readonly inputs: Map<string, Tensor>;
  private hidden: HiddenInput[];
  private readonly outputs: Map<string, Tensor>;
  private readonly loss?: Tensor;
  private readonly lossGrad: Ptr | null;
  private readonly grads = new Map<Param, Ptr>();
  private readonly optimizer?: AdamW;
  private readonly accumulator?: GradAccumulator;
  private readonly adamParams: { decay: Ptr; noDecay: Ptr } | null = null;
  private readonly clip: { maxNorm: Ptr; norm: Ptr } | null = null;
  private readonly rng: Rng;
  private readonly lastInputs = new Map<string, InputData>();
  /** Inputs the graph reads directly (an i32 target consumed only by crossEntropy's derived inputs is not). */
  private readonly inGraph = new Set<string>();
  private ran = false;

  /** @internal use engine-level `compile()` */
  constructor(engine: Engine, options: CompileOptions) {
    super();
    engine.assertAlive();
    options.params.assertReady();
    const { mode } = options;
    if (mode === "train" && !options.optimizer) throw new ReclmError("RECLM_ERR_BAD_CONFIG", 'compile: mode "train" needs an optimizer');
    if (options.optimizer && options.optimizer.store !== options.params) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "compile: optimizer belongs to another ParamStore");
    if (mode === "accumulate" && !options.accumulator) throw new ReclmError("RECLM_ERR_BAD_CONFIG", 'compile: mode "accumulate" needs an accumulator');
    if (options.accumulator && mode !== "accumulate" && mode !== "train") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `compile: an accumulator belongs to "accumulate" and "train" graphs, not "${mode}"`);
    if (options.accumulator && options.accumulator.store !== options.params) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "compile: accumulator belongs to another ParamStore");
    this.engine = engine;
    this.store = options.params;
    this.mode = mode;
    this.rng = options.rng ?? new Rng(0);
    this.optimizer = mode === "train" ? options.optimizer : undefined;
    this.accumulator = options.accumulator;
    const B = engine.ggml.base;
    const maxNodes = options.maxNodes ?? 32768;
    const memSize =
      Number(B.ggml_tensor_overhead()) * maxNodes * 3 +
      Number(B.ggml_graph_overhead_custom(maxNodes, true)) +
      Number(B.ggml_graph_overhead_custom(maxNodes, false)) +
      4096;
    this.ctx = B.ggml_init({ mem_size: memSize, mem_buffer: null, no_alloc: true });
    if (!this.ctx) throw new ReclmError("RECLM_ERR_ENGINE", `compile: ggml_init failed for a ${memSize}-byte graph context (maxNodes ${maxNodes}; out of memory?)`);
    try {
      const builder = new Builder(engine, this.ctx, mode);
      const res = options.build(builder);
      this.inputs = new Map([...builder.inputs].map(([k, v]) => [k, v.tensor]));
      this.hidden = builder.hidden;
      this.outputs = new Map();
      const grads = mode !== "eval";
      this.gf = B.ggml_new_graph_custom(this.ctx, maxNodes, grads);
      for (const [name, t] of Object.entries(res.outputs ?? {})) {
        const c = builder.cont(t);
        B.ggml_set_output(c.ptr);
        B.ggml_build_forward_expand(this.gf, c.ptr);
        this.outputs.set(name, c);
      }
      if (res.loss) {
        if (res.loss.numel !== 1 || res.loss.dtype !== "f32") throw new ReclmError("RECLM_ERR_SHAPE", `compile: loss must be an f32 scalar, got ${res.loss}`);
        this.loss = res.loss;
        B.ggml_set_output(res.loss.ptr);
        B.ggml_build_forward_expand(this.gf, res.loss.ptr);
      } else if (grads) {
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `compile: mode "${mode}" needs build() to return a loss`);
      }
      for (const t of this.inputs.values()) this.markInput(t.ptr);
      for (const h of this.hidden) this.markInput(h.tensor.ptr);

      this.lossGrad = null;
      if (grads && this.loss) {
        const used = this.store.list().filter((p) => p.trainable);
        if (used.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "compile: no trainable parameters");
        B.ggml_set_loss(this.loss.ptr);
        B.ggml_build_backward_expand(this.ctx, this.gf, null);
        this.lossGrad = B.ggml_graph_get_grad_acc(this.gf, this.loss.ptr);
        if (!this.lossGrad) throw new ReclmError("RECLM_ERR_ENGINE", "compile: loss has no gradient accumulator (does the loss depend on a trainable parameter?)");
        this.markInput(this.lossGrad);
        for (const p of used) {
          const g = B.ggml_graph_get_grad(this.gf, p.ptr);
          // A gradient can be a permuted view (param used through transpose/permute); OPT_STEP_ADAMW and our
          // read-back assume the param's own contiguous layout, so copy those.
          if (g) this.grads.set(p, isContiguousNative(g) ? g : B.ggml_cont(this.ctx, g));
        }
        if (this.grads.size === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "compile: the loss depends on no trainable parameter");
        const acc = this.accumulator;
        if (mode === "grad") {
          for (const g of this.grads.values()) {
            B.ggml_set_output(g);
            B.ggml_build_forward_expand(this.gf, g);
          }
        } else if (mode === "accumulate") {
          for (const [p, g] of this.grads) {
            const buf = acc!.buffers.get(p);
            if (!buf) throw new ReclmError("RECLM_ERR_ENGINE", `accumulator has no buffer for "${p.name}"`);
            B.ggml_build_forward_expand(this.gf, B.ggml_cpy(this.ctx, B.ggml_add(this.ctx, buf, g), buf));
          }
        } else {
          if (acc) {
            for (const [p, g] of this.grads) {
              const buf = acc.buffers.get(p);
              if (!buf) throw new ReclmError("RECLM_ERR_ENGINE", `accumulator has no buffer for "${p.name}"`);
              this.grads.set(p, B.ggml_add(this.ctx, g, buf));
            }
          }
          const opt = this.optimizer!;
          const mk = (n: number) => {
            const t = B.ggml_new_tensor_1d(this.ctx, GGML_TYPE.F32, n);
            this.markInput(t);
            return t;
          };
          this.adamParams = { decay: mk(7), noDecay: mk(7) };
          // Global norm over every gradient this graph produces, before clipping (PyTorch clip_grad_norm_).
          let sq: Ptr | null = null;
          for (const g of this.grads.values()) {
            const s = B.ggml_sum(this.ctx, B.ggml_sqr(this.ctx, g));
            sq = sq ? B.ggml_add(this.ctx, sq, s) : s;
          }
          const norm = B.ggml_sqrt(this.ctx, sq);
          B.ggml_set_output(norm);
          B.ggml_build_forward_expand(this.gf, norm);
          const maxNorm = mk(1);
          const eps = mk(1);
          this.hidden.push({ kind: "constant", tensor: new Tensor(eps, [1], "f32"), data: new Float32Array([1e-6]) });
          const coef = B.ggml_clamp(this.ctx, B.ggml_div(this.ctx, maxNorm, B.ggml_add(this.ctx, norm, eps)), -1e30, 1);
          this.clip = { maxNorm, norm };
          for (const [p, g] of this.grads) {
            const st = opt.moments.get(p);
            if (!st) throw new ReclmError("RECLM_ERR_ENGINE", `optimizer has no state for "${p.name}"`);
            const gc = B.ggml_mul(this.ctx, g, coef);
            const step = B.ggml_opt_step_adamw(this.ctx, p.ptr, gc, st.m, st.v, p.decay ? this.adamParams.decay : this.adamParams.noDecay);
            B.ggml_build_forward_expand(this.gf, step);
          }
        }
      }
      if (grads && process.env.RECLM_ENGINE_OUT_PROD !== "native") this.gf = outProductsAsMatmuls(engine.ggml, this.ctx, this.gf, maxNodes, options.outProducts?.minMacsPerCopy);
      this.nodeCount = Number(B.ggml_graph_n_nodes(this.gf));
      if (this.nodeCount >= maxNodes) throw new ReclmError("RECLM_ERR_ENGINE", `graph has ${this.nodeCount} nodes, over maxNodes ${maxNodes}; raise it`);
      this.ownsAllocator = !options.allocator;
      this.allocator = options.allocator ?? new ComputeAllocator(engine);
      try {
        this.generation = this.allocator.place(this, this.gf);
      } catch (e) {
        if (this.ownsAllocator) this.allocator.dispose();
        throw e;
      }
      // By pointer, not by ggml_graph_get_tensor(name): names are cut to ggml's 63 bytes and shared with parameters
      // and other inputs, and a lookup that found the wrong tensor left an input unwritten (stale memory).
      for (const [name, t] of this.inputs) if (tensorHasBuffer(t.ptr)) this.inGraph.add(name);
      // A constant or mask that no output depends on was never allocated: nothing to write (ggml would abort).
      this.hidden = this.hidden.filter((h) => tensorHasBuffer(h.tensor.ptr));
      this.computeBytes = this.allocator.bytes;
    } catch (e) {
      B.ggml_free(this.ctx);
      throw e;
    }
    this.setConstants();
  }

  private setConstants(): void {
    for (const h of this.hidden) if (h.kind === "constant") this.setRaw(h.tensor.ptr, h.data);
  }

  /** True when a later graph of its shared allocator moved the buffer: this graph must be compiled again. */
  get stale(): boolean {
    return this.allocator.generation !== this.generation;
  }

  /** In a shared allocator: takes the buffer's turn from the graph that ran since; returns whether it had to. */
  private takeTurn(): boolean {
    if (this.allocator.current === this) return false;
    if (this.stale) throw new ReclmError("RECLM_ERR_ENGINE", "graph is stale: a later graph grew the shared compute buffer; compile it again");
    this.allocator.current = this;
    this.setConstants(); // the other graph's tensors overlap this one's
    return true;
  }

  /** Names and shapes of the inputs `run` expects. */
  get inputShapes(): Record<string, { shape: readonly number[]; dtype: string }> {
    return Object.fromEntries([...this.inputs].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype }]));
  }

  /**
   * Copies every input in, computes, and (train) applies one AdamW step with the optimizer's current lr.
   * Every declared input must be given each run.
   */
  run(inputs: Record<string, InputData>, options: RunOptions = {}): RunResult {
    this.prepare(inputs, options);
    const status = Number(this.engine.ggml.base.ggml_backend_graph_compute(this.engine.backend, this.gf));
    if (status !== 0) throw new ReclmError("RECLM_ERR_ENGINE", `ggml graph compute failed with status ${status}`);
    return this.finish();
  }

  /**
   * Same as `run`, but computes the nodes one at a time and times each (wall ms, process CPU ms): where a step's time
   * goes. Results equal `run`'s; slower (one backend call per node). For benchmarks, not training loops.
   */
  profile(inputs: Record<string, InputData>, options: RunOptions = {}): { result: RunResult; nodes: NodeProfile[] } {
    this.prepare(inputs, options);
    const B = this.engine.ggml.base;
    const n = this.nodeCount;
    const ctx = B.ggml_init({ mem_size: Number(B.ggml_graph_overhead_custom(1, false)) + 4096, mem_buffer: null, no_alloc: true });
    const nodes: NodeProfile[] = [];
    try {
      const one = B.ggml_new_graph_custom(ctx, 1, false);
      for (let i = 0; i < n; i++) {
        const node = B.ggml_graph_node(this.gf, i);
        B.ggml_graph_clear(one);
        B.ggml_graph_add_node(one, node);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const status = Number(B.ggml_backend_graph_compute(this.engine.backend, one));
        const ms = performance.now() - t0;
        const dc = process.cpuUsage(c0);
        if (status !== 0) throw new ReclmError("RECLM_ERR_ENGINE", `ggml compute of node ${i} failed with status ${status}`);
        const { ne } = tensorLayout(node);
        nodes.push({ index: i, op: String(B.ggml_op_desc(node)), ne, ms, cpuMs: (dc.user + dc.system) / 1000 });
      }
    } finally {
      B.ggml_free(ctx);
    }
    return { result: this.finish(), nodes };
  }

  private prepare(inputs: Record<string, InputData>, options: RunOptions): void {
    this.assertAlive();
    if (this.takeTurn() && options.keepDropoutMasks && this.ran) {
      throw new ReclmError("RECLM_ERR_ENGINE", "keepDropoutMasks: another graph ran in this graph's shared compute buffer since, so its masks are gone");
    }
    for (const [name, t] of this.inputs) {
      const data = inputs[name];
      if (!data) throw new ReclmError("RECLM_ERR_SHAPE", `graph input "${name}" not given`, { field: name });
      const want = t.dtype === "i32" ? Int32Array : Float32Array;
      if (!(data instanceof want) || data.length !== t.numel) {
        throw new ReclmError("RECLM_ERR_SHAPE", `graph input "${name}" needs ${want.name}(${t.numel}) for shape ${fmt(t)}, got ${data.constructor.name}(${data.length})`, { field: name });
      }
      if (this.inGraph.has(name)) this.setRaw(t.ptr, data);
      this.lastInputs.set(name, data);
    }
    for (const name of Object.keys(inputs)) {
      if (!this.inputs.has(name)) throw new ReclmError("RECLM_ERR_SHAPE", `unknown graph input "${name}" (have: ${[...this.inputs.keys()].join(", ")})`, { field: name });
    }
    for (const [slot, h] of this.hidden.entries()) {
      if (h.kind === "dropout") {
        if (options.keepDropoutMasks && this.ran) continue;
        // The allocator's reused staging array (masks reach 10M values: no per-step allocation).
        const m = this.allocator.hostBuffer(slot, h.tensor.numel);
        fillDropoutMask(this.rng, m, h.p);
        this.setRaw(h.tensor.ptr, m);
      } else if (h.kind === "derived") {
        this.setRaw(h.tensor.ptr, h.fill(this.lastInputs.get(h.from)!));
      }
    }
    if (this.lossGrad) this.setRaw(this.lossGrad, new Float32Array([1]));
    const opt = this.optimizer;
    if (opt && this.adamParams && this.clip) {
      opt.assertAlive();
      // A group no parameter uses is not in the graph and has no buffer (ggml aborts on set).
      const grads = [...this.grads.keys()];
      if (grads.some((p) => p.decay)) this.setRaw(this.adamParams.decay, opt.stepParams(true));
      if (grads.some((p) => !p.decay)) this.setRaw(this.adamParams.noDecay, opt.stepParams(false));
      this.setRaw(this.clip.maxNorm, new Float32Array([opt.clipNorm ?? 3.4e38]));
    }
  }

  private finish(): RunResult {
    const opt = this.optimizer;
    this.ran = true;
    const result: RunResult = { loss: this.loss ? this.readRaw(this.loss.ptr, 1)[0] : NaN };
    if (opt && this.clip) {
      opt.step++;
      result.gradNorm = this.readRaw(this.clip.norm, 1)[0];
      this.accumulator?.zero();
    } else if (this.mode === "accumulate") {
      this.accumulator!.pending++;
    }
    return result;
  }

  /** An output's values after `run` (row-major, PyTorch order). */
  read(name: string): Float32Array {
    this.assertRan();
    const t = this.outputs.get(name);
    if (!t) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `no graph output "${name}" (have: ${[...this.outputs.keys()].join(", ")})`);
    return this.readRaw(t.ptr, t.numel);
  }

  /** d loss / d param after `run` ("grad" graphs). */
  grad(p: Param): Float32Array {
    this.assertRan();
    if (this.mode !== "grad") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `graph.grad needs mode "grad", this graph is "${this.mode}"`);
    const g = this.grads.get(p);
    if (!g) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `parameter "${p.name}" gets no gradient in this graph`);
    return this.readRaw(g, p.numel);
  }

  private markInput(ptr: Ptr): void {
    // Input AND output: gallocr never frees or overwrites in place an output, so constants survive runs.
    this.engine.ggml.base.ggml_set_input(ptr);
    this.engine.ggml.base.ggml_set_output(ptr);
  }

  private setRaw(ptr: Ptr, data: InputData): void {
    this.engine.ggml.base.ggml_backend_tensor_set(ptr, data, 0, data.byteLength);
  }

  private readRaw(ptr: Ptr, n: number): Float32Array {
    const out = new Float32Array(n);
    this.engine.ggml.base.ggml_backend_tensor_get(ptr, out, 0, out.byteLength);
    return out;
  }

  private assertRan(): void {
    this.assertAlive();
    if (!this.ran) throw new ReclmError("RECLM_ERR_ENGINE", "graph has not been run yet");
    if (this.allocator.current !== this) {
      throw new ReclmError("RECLM_ERR_ENGINE", "another graph ran in this graph's shared compute buffer since; run this graph again before reading it");
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "graph was disposed");
    this.engine.assertAlive();
    this.store.assertReady();
    this.accumulator?.assertAlive();
  }

  protected free(): void {
    const B = this.engine.ggml.base;
    if (this.ownsAllocator) this.allocator.dispose();
    else if (this.allocator.current === this) this.allocator.current = null;
    B.ggml_free(this.ctx);
  }
}

/** Builds a graph once for one set of input shapes. See `CompileOptions`. */
export function compile(engine: Engine, options: CompileOptions): Graph {
  return new Graph(engine, options);
}
