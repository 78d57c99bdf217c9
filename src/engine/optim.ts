import { ReclmError } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { GGML_TYPE, type Ptr } from "./ffi/ggml.ts";
import type { Param, ParamStore } from "./params.ts";
import { toNe } from "./tensor.ts";
import { NativeResource } from "./native-resource.ts";

export interface AdamWOptions {
  /** Learning rate; change `opt.lr` between steps (schedules) without rebuilding any graph. */
  lr: number;
  beta1?: number;
  beta2?: number;
  /** Default 1e-8 (PyTorch); LlamaRec/LRURec use 1e-9. */
  eps?: number;
  /** Decoupled weight decay for params with `decay: true`; others get 0. Default 0.01 (PyTorch AdamW). */
  weightDecay?: number;
  /** Clip the global L2 norm of all gradients to this (PyTorch clip_grad_norm_, coef = max/(norm+1e-6) capped at 1). */
  clipNorm?: number;
}

/**
 * AdamW state (m, v per trainable parameter, step count) for one ParamStore. The update itself is ggml's
 * OPT_STEP_ADAMW node inside each train graph, so several train graphs (batch shapes) share this state.
 */
export class AdamW extends NativeResource {
  readonly store: ParamStore;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  clipNorm: number | undefined;
  /** Completed optimizer steps (PyTorch's `state.step`); bias correction uses step + 1 on the next run. */
  step = 0;
  /** @internal */ readonly moments = new Map<Param, { m: Ptr; v: Ptr }>();
  private readonly engine: Engine;
  private readonly ctx: Ptr;
  private readonly buffer: Ptr;

  constructor(store: ParamStore, options: AdamWOptions) {
    super();
    store.assertReady();
    this.store = store;
    this.engine = store.engine;
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.clipNorm = options.clipNorm;
    for (const [k, v] of Object.entries({ lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay })) {
      if (!Number.isFinite(v) || v < 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `AdamW ${k} must be a finite number >= 0, got ${v}`, { field: k });
    }
    const B = this.engine.ggml.base;
    const trainable = store.list().filter((p) => p.trainable);
    if (trainable.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "AdamW: no trainable parameters");
    this.ctx = B.ggml_init({ mem_size: Number(B.ggml_tensor_overhead()) * (2 * trainable.length + 4), mem_buffer: null, no_alloc: true });
    if (!this.ctx) throw new ReclmError("RECLM_ERR_ENGINE", "AdamW: ggml_init failed (out of memory?)");
    for (const p of trainable) {
      const ne = toNe(p.shape);
      const m = B.ggml_new_tensor_4d(this.ctx, GGML_TYPE.F32, ne[0], ne[1], ne[2], ne[3]);
      const v = B.ggml_new_tensor_4d(this.ctx, GGML_TYPE.F32, ne[0], ne[1], ne[2], ne[3]);
      this.moments.set(p, { m, v });
    }
    this.buffer = B.ggml_backend_alloc_ctx_tensors_from_buft(this.ctx, this.engine.bufferType);
    if (!this.buffer) {
      // dispose() is never reached for an object whose constructor threw.
      B.ggml_free(this.ctx);
      throw new ReclmError("RECLM_ERR_ENGINE", "could not allocate AdamW state");
    }
    this.reset();
  }

  /** Zero m, v and the step count. */
  reset(): void {
    for (const p of this.moments.keys()) {
      const z = new Float32Array(p.numel);
      this.writeMoment(p, "m", z);
      this.writeMoment(p, "v", z);
    }
    this.step = 0;
  }

  readMoment(p: Param, which: "m" | "v"): Float32Array {
    this.assertAlive();
    const t = this.moments.get(p);
    if (!t) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `AdamW has no state for "${p.name}" (frozen or foreign)`);
    const out = new Float32Array(p.numel);
    this.engine.ggml.base.ggml_backend_tensor_get(t[which], out, 0, out.byteLength);
    return out;
  }

  writeMoment(p: Param, which: "m" | "v", data: Float32Array): void {
    this.assertAlive();
    const t = this.moments.get(p);
    if (!t) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `AdamW has no state for "${p.name}" (frozen or foreign)`);
    if (data.length !== p.numel) throw new ReclmError("RECLM_ERR_SHAPE", `AdamW ${which} for "${p.name}": ${data.length} values, need ${p.numel}`);
    this.engine.ggml.base.ggml_backend_tensor_set(t[which], data, 0, data.byteLength);
  }

  /** @internal the 7 floats ggml's OPT_STEP_ADAMW reads for the NEXT step. */
  stepParams(decay: boolean): Float32Array {
    const t = this.step + 1;
    return new Float32Array([
      this.lr,
      this.beta1,
      this.beta2,
      this.eps,
      decay ? this.weightDecay : 0,
      1 / (1 - Math.pow(this.beta1, t)),
      1 / (1 - Math.pow(this.beta2, t)),
    ]);
  }

  /** @internal */
  assertAlive(): void {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "AdamW was disposed");
    this.store.assertReady();
  }

  protected free(): void {
    const B = this.engine.ggml.base;
    B.ggml_backend_buffer_free(this.buffer);
    B.ggml_free(this.ctx);
  }
}

export type LrSchedule =
  | { kind: "constant"; lr: number }
  /** Linear warmup from warmupStartLr (default 0) to lr over `warmup` steps, then cosine to minLr at totalSteps. */
  | { kind: "cosine"; lr: number; warmup: number; totalSteps: number; minLr?: number; warmupStartLr?: number }
  /** Linear warmup, then linear decay to minLr (default 0) at totalSteps (HF get_linear_schedule_with_warmup). */
  | { kind: "linear"; lr: number; warmup: number; totalSteps: number; minLr?: number; warmupStartLr?: number };

/** Learning rate for 0-based step `step` (set `opt.lr = lrAt(s, opt.step)` before each train run). */
export function lrAt(s: LrSchedule, step: number): number {
  if (s.kind === "constant") return s.lr;
  const start = s.warmupStartLr ?? 0;
  const min = s.minLr ?? 0;
  if (step < s.warmup) return start + ((s.lr - start) * step) / s.warmup;
  const span = Math.max(1, s.totalSteps - s.warmup);
  const progress = Math.min(1, (step - s.warmup) / span);
  if (s.kind === "linear") return min + (s.lr - min) * (1 - progress);
  return min + 0.5 * (s.lr - min) * (1 + Math.cos(Math.PI * progress));
}

/**
 * Gradient accumulation buffers, one per trainable parameter of a ParamStore, kept in backend memory between graph
 * runs. A graph compiled with `mode: "accumulate"` adds its gradients into them; the next `mode: "train"` graph given
 * the same accumulator steps on (its own gradients + the accumulated ones) and then zeroes them. So k micro-batches
 * make one optimizer step on the sum of their gradients: give each micro-batch's loss the weights of the whole batch
 * (e.g. crossEntropy `weights` of 1/labelled tokens of all k micro-batches) and the step equals one big batch's.
 */
export class GradAccumulator extends NativeResource {
  readonly store: ParamStore;
  /** @internal */ readonly buffers = new Map<Param, Ptr>();
  /** Micro-batches added since the last optimizer step. */
  pending = 0;
  private readonly engine: Engine;
  private readonly ctx: Ptr;
  private readonly buffer: Ptr;

  constructor(store: ParamStore) {
    super();
    store.assertReady();
    this.store = store;
    this.engine = store.engine;
    const B = this.engine.ggml.base;
    const trainable = store.list().filter((p) => p.trainable);
    if (trainable.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "GradAccumulator: no trainable parameters");
    this.ctx = B.ggml_init({ mem_size: Number(B.ggml_tensor_overhead()) * (trainable.length + 4), mem_buffer: null, no_alloc: true });
    if (!this.ctx) throw new ReclmError("RECLM_ERR_ENGINE", "GradAccumulator: ggml_init failed (out of memory?)");
    for (const p of trainable) {
      const ne = toNe(p.shape);
      this.buffers.set(p, B.ggml_new_tensor_4d(this.ctx, GGML_TYPE.F32, ne[0], ne[1], ne[2], ne[3]));
    }
    this.buffer = B.ggml_backend_alloc_ctx_tensors_from_buft(this.ctx, this.engine.bufferType);
    if (!this.buffer) {
      B.ggml_free(this.ctx);
      throw new ReclmError("RECLM_ERR_ENGINE", "could not allocate gradient accumulation buffers");
    }
    this.zero();
  }

  /** Forgets the accumulated gradients. */
  zero(): void {
    this.assertAlive();
    const B = this.engine.ggml.base;
    for (const [p, t] of this.buffers) B.ggml_backend_tensor_memset(t, 0, 0, p.numel * 4);
    this.pending = 0;
  }

  /** The accumulated gradient of `p` (tests, diagnostics). */
  read(p: Param): Float32Array {
    this.assertAlive();
    const t = this.buffers.get(p);
    if (!t) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `GradAccumulator has no buffer for "${p.name}" (frozen or foreign)`);
    const out = new Float32Array(p.numel);
    this.engine.ggml.base.ggml_backend_tensor_get(t, out, 0, out.byteLength);
    return out;
  }

  /** @internal */
  assertAlive(): void {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "GradAccumulator was disposed");
    this.store.assertReady();
  }

  protected free(): void {
    const B = this.engine.ggml.base;
    B.ggml_backend_buffer_free(this.buffer);
    B.ggml_free(this.ctx);
  }
}
