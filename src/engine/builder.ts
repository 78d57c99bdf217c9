/**
 * The graph builder: every op a model uses, with shapes checked in TypeScript BEFORE ggml sees them
 * (a failed GGML_ASSERT aborts the whole process). Shapes are PyTorch order (see tensor.ts).
 * Every op here has a backward pass in ggml 0.4.0, natively or because it is composed from ops that do.
 */
import { ReclmError } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { GGML_OP_POOL, GGML_ROPE_TYPE, GGML_TYPE, type GgmlBase, type Ptr } from "./ffi/ggml.ts";
import { Param } from "./params.ts";
import { checkShape, contiguousStrides, fmt, numel, shapeError, Tensor, toNe, type DType, type InputDType, type Shape } from "./tensor.ts";

/**
 * "eval": forward only. "grad": + backward, gradients readable. "train": + clipping and an AdamW step.
 * "accumulate": + backward, gradients added into a GradAccumulator (a micro-batch of a later "train" step).
 */
export type GraphMode = "eval" | "grad" | "train" | "accumulate";

/** @internal an input whose data the graph fills itself (constants, dropout masks, CE index/weights). */
export type HiddenInput =
  | { kind: "constant"; tensor: Tensor; data: Float32Array | Int32Array }
  | { kind: "dropout"; tensor: Tensor; p: number }
  | { kind: "derived"; tensor: Tensor; from: string; fill: (src: Float32Array | Int32Array) => Float32Array | Int32Array };

export interface InputSpec {
  name: string;
  tensor: Tensor;
}

export interface SoftmaxOptions {
  /** Multiply logits by this before the softmax (attention's 1/sqrt(d)). Default 1. */
  scale?: number;
  /** Mask future positions (key index > query index) over the last two dims [.., Lq, Lk]. */
  causal?: boolean;
  /**
   * With `causal`: query row i is position i + causalOffset, so keys up to i + causalOffset stay visible (a block of
   * queries that starts at row causalOffset of its sequence, against all the keys before its end). Default 0.
   */
  causalOffset?: number;
  /**
   * Additive f32 mask [.., Lq, Lk] (use -1e9, not -Infinity: a fully masked row would give NaN), added after scaling.
   * Leading dims must be 1 or equal to x's (e.g. [B, 1, Lq, Lk] for x [B, H, Lq, Lk]). Receives no gradient.
   */
  mask?: Tensor;
}

export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing (padding). Default: none. */
  ignoreIndex?: number;
  /**
   * Per-row loss weights (an f32 graph input [N]) instead of 1/nValid: the loss is -Σ w·log p[target]. Rows whose
   * target is `ignoreIndex` still contribute nothing. For a loss mask that spans several micro-batches (gradient
   * accumulation), give every labelled row 1/(labelled rows of the whole batch).
   */
  weights?: Tensor;
}

export interface RopeOptions {
  /** Default 10000. */
  base?: number;
  /** "neox" (rotate halves: Llama/HF layout) or "normal" (adjacent pairs, GPT-J/original llama.cpp). Default "neox". */
  mode?: "neox" | "normal";
  /** Rotate only the first nDims of each head. Default: the whole head. */
  nDims?: number;
  /** Linear position scaling (ggml's freq_scale: every angle times this; 1 / the "linear" rope-scaling factor). Default 1. */
  freqScale?: number;
  /**
   * Per-frequency divisors f32 [>= nDims/2] (Llama 3.x rope_freqs: angle i is divided by freqFactors[i]); ggml's
   * rope_ext `c`. ggml has no gradient for them: a frozen parameter or a graph input.
   */
  freqFactors?: Tensor;
}

/** Builds one graph. Obtained from `engine.compile({ build })`; never constructed by model code. */
export class Builder {
  readonly mode: GraphMode;
  /** @internal */ readonly inputs = new Map<string, InputSpec>();
  /** @internal */ readonly hidden: HiddenInput[] = [];
  /** @internal */ tensorsCreated = 0;
  private readonly B: GgmlBase;
  private readonly ctx: Ptr;
  private readonly engine: Engine;
  /** concat's zero bases, one per shape: ACC copies its base, so every concat of a shape can share one constant. */
  private readonly zeroBases = new Map<string, Tensor>();
  private readonly causalMasks = new Map<string, Tensor>();
  /** swapHalves' row indexes, one per row count. */
  private readonly swapIndexes = new Map<number, Tensor>();

  /** @internal */
  constructor(engine: Engine, ctx: Ptr, mode: GraphMode) {
    this.engine = engine;
    this.B = engine.ggml.base;
    this.ctx = ctx;
    this.mode = mode;
  }

  /** True in "grad" and "train" graphs: dropout is active. */
  get training(): boolean {
    return this.mode !== "eval";
  }

  // ---------------------------------------------------------------- inputs and constants

  /** A named input filled on every `graph.run({ [name]: data })`. i32 inputs take Int32Array, f32 Float32Array. */
  input(name: string, shape: Shape, dtype: InputDType = "f32"): Tensor {
    if (this.inputs.has(name)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `duplicate graph input "${name}"`);
    const t = this.newTensor(shape, dtype, `input "${name}"`);
    this.B.ggml_set_name(t.ptr, name.slice(0, 60));
    this.inputs.set(name, { name, tensor: t });
    return t;
  }

  /** A constant tensor (set once after allocation). `value` is a number (filled) or the full data. */
  constant(value: number | Float32Array, shape: Shape): Tensor {
    const t = this.newTensor(shape, "f32", "constant");
    const data = typeof value === "number" ? new Float32Array(numel(shape)).fill(value) : value;
    if (data.length !== numel(shape)) throw shapeError("constant", `${data.length} values for shape ${fmt(shape)}`);
    this.hidden.push({ kind: "constant", tensor: t, data });
    return t;
  }

  // ---------------------------------------------------------------- elementwise

  /** a + b with broadcasting (dims of size 1, or dividing, repeat; shapes right-aligned). */
  add(a: Tensor, b: Tensor): Tensor {
    return this.broadcastBinary("add", a, b, (x, y) => this.B.ggml_add(this.ctx, x, y));
  }

  /** a - b with broadcasting (composed as a + (-1)·b: ggml's SUB backward cannot broadcast). */
  sub(a: Tensor, b: Tensor): Tensor {
    return this.add(a, this.scale(b, -1));
  }

  /** a * b elementwise with broadcasting. */
  mul(a: Tensor, b: Tensor): Tensor {
    return this.broadcastBinary("mul", a, b, (x, y) => this.B.ggml_mul(this.ctx, x, y));
  }

  /**
   * x tiled to `shape` (shapes right-aligned; every dim of x divides the matching one). ggml's REPEAT; the gradient
   * sums back over the copies. Cheaper than broadcasting through mul(ones, x): no ones to read, and no extra MUL in
   * the backward.
   */
  repeat(x: Tensor, shape: Shape): Tensor {
    this.f32("repeat", x);
    checkShape(shape, "repeat");
    const [sx, st] = rightAlign(x.shape, shape);
    if (st.length !== shape.length || !canRepeat(sx, st)) throw shapeError("repeat", `cannot tile ${fmt(x)} to ${fmt(shape)}`);
    if (sameShape(sx, st)) return this.reshapeTo(x, shape);
    const ne = [...shape].reverse();
    while (ne.length < 4) ne.push(1);
    return this.wrap(this.B.ggml_repeat_4d(this.ctx, this.contig(x).ptr, ne[0], ne[1], ne[2], ne[3]), shape);
  }

  /** a / b elementwise; b is broadcast to a's shape first (ggml's DIV backward needs equal shapes). */
  div(a: Tensor, b: Tensor): Tensor {
    this.f32("div", a, b);
    const [sa, sb] = rightAlign(a.shape, b.shape);
    if (!canRepeat(sb, sa)) throw shapeError("div", `cannot broadcast ${fmt(b)} to ${fmt(a)}`);
    const ac = this.contig(a);
    let bc = this.contig(this.reshapeTo(b, sb));
    if (!sameShape(sa, sb)) bc = this.wrap(this.B.ggml_repeat(this.ctx, bc.ptr, ac.ptr), a.shape);
    return this.wrap(this.B.ggml_div(this.ctx, ac.ptr, bc.ptr), a.shape);
  }

  scale(x: Tensor, s: number): Tensor {
    this.f32("scale", x);
    return this.wrap(this.B.ggml_scale(this.ctx, this.contig(x).ptr, s), x.shape);
  }

  /** x + c for a scalar c. */
  addScalar(x: Tensor, c: number): Tensor {
    return this.add(x, this.constant(c, [1]));
  }

  neg(x: Tensor): Tensor {
    return this.scale(x, -1);
  }
  sqr(x: Tensor): Tensor {
    return this.unary("sqr", x, this.B.ggml_sqr);
  }
  sqrt(x: Tensor): Tensor {
    return this.unary("sqrt", x, this.B.ggml_sqrt);
  }
  exp(x: Tensor): Tensor {
    return this.unary("exp", x, this.B.ggml_exp);
  }
  log(x: Tensor): Tensor {
    return this.unary("log", x, this.B.ggml_log);
  }
  sin(x: Tensor): Tensor {
    return this.unary("sin", x, this.B.ggml_sin);
  }
  cos(x: Tensor): Tensor {
    return this.unary("cos", x, this.B.ggml_cos);
  }
  abs(x: Tensor): Tensor {
    return this.unary("abs", x, this.B.ggml_abs);
  }
  relu(x: Tensor): Tensor {
    return this.unary("relu", x, this.B.ggml_relu);
  }
  silu(x: Tensor): Tensor {
    return this.unary("silu", x, this.B.ggml_silu);
  }
  softplus(x: Tensor): Tensor {
    return this.unary("softplus", x, this.B.ggml_softplus);
  }

  /** Composed: sigmoid(x) = exp(-softplus(-x)) (ggml's SIGMOID has no backward). Stable for large |x|. */
  sigmoid(x: Tensor): Tensor {
    return this.exp(this.neg(this.softplus(this.neg(x))));
  }

  /** Composed: tanh(x) = 2·sigmoid(2x) - 1 (ggml's TANH has no backward). */
  tanh(x: Tensor): Tensor {
    return this.addScalar(this.scale(this.sigmoid(this.scale(x, 2)), 2), -1);
  }

  /**
   * GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). ggml has no erf with backward;
   * the max absolute difference to exact erf-GELU is about 3e-4 (test/engine/ops.test.ts measures it).
   */
  gelu(x: Tensor): Tensor {
    // 0.5·(1 + tanh(z)) = sigmoid(y), y = 2z = k·x·w with w = 1 + 0.044715·x², k = 2√(2/π). And x·sigmoid(y) =
    // silu(y)·x/y = silu(y) / (k·w): ggml's SILU has a native backward, and the divisor is >= k, so no 0/0. One
    // transcendental pass instead of softplus + exp forward and sigmoid backward (bench/engine/parts.ts gelu vs
    // gelu.softplus); same function, float rounding apart.
    const k = 2 * Math.sqrt(2 / Math.PI);
    const kw = this.addScalar(this.scale(this.sqr(x), k * 0.044715), k); // k·(1 + 0.044715·x²)
    return this.div(this.silu(this.mul(x, kw)), kw);
  }

  /** SwiGLU: silu(gate) * up (ggml's split SWIGLU, native backward). */
  swiglu(gate: Tensor, up: Tensor): Tensor {
    this.f32("swiglu", gate, up);
    if (!sameShape(gate.shape, up.shape)) throw shapeError("swiglu", `gate ${fmt(gate)} and up ${fmt(up)} differ`);
    return this.wrap(this.B.ggml_swiglu_split(this.ctx, this.contig(gate).ptr, this.contig(up).ptr), gate.shape);
  }

  /**
   * Inverted dropout: in train/grad graphs multiplies by a fresh random mask (values 0 or 1/(1-p)) drawn from the
   * graph's Rng on every run; identity in eval graphs or when p = 0.
   */
  dropout(x: Tensor, p: number): Tensor {
    if (!(p >= 0 && p < 1)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `dropout p must be in [0, 1), got ${p}`, { field: "dropout" });
    if (!this.training || p === 0) return x;
    this.f32("dropout", x);
    const mask = this.newTensor(x.shape, "f32", "dropout mask");
    this.hidden.push({ kind: "dropout", tensor: mask, p });
    return this.mul(x, mask);
  }

  // ---------------------------------------------------------------- reductions and norms

  /** Sum over the last dim, keeping it: [.., n] -> [.., 1]. */
  sumRows(x: Tensor): Tensor {
    this.f32("sumRows", x);
    return this.wrap(this.B.ggml_sum_rows(this.ctx, this.contig(x).ptr), [...x.shape.slice(0, -1), 1]);
  }

  /** Mean over the last dim, keeping it (sum_rows·1/n: ggml's row MEAN has no backward). */
  meanRows(x: Tensor): Tensor {
    return this.scale(this.sumRows(x), 1 / x.shape[x.rank - 1]);
  }

  /** Sum of all elements -> scalar (shape []). */
  sum(x: Tensor): Tensor {
    this.f32("sum", x);
    return this.wrap(this.B.ggml_sum(this.ctx, this.contig(x).ptr), []);
  }

  /** Mean of all elements -> scalar. */
  mean(x: Tensor): Tensor {
    return this.scale(this.sum(x), 1 / x.numel);
  }

  /**
   * LayerNorm over the last dim (biased variance, like PyTorch), composed as rms_norm(x - mean(x)) then
   * ·gamma + beta (ggml's NORM has no backward). gamma/beta: [D] or omitted.
   */
  layerNorm(x: Tensor, gamma?: Tensor, beta?: Tensor, eps = 1e-5): Tensor {
    this.f32("layerNorm", x);
    const centered = this.sub(x, this.meanRows(x));
    let y = this.wrap(this.B.ggml_rms_norm(this.ctx, centered.ptr, eps), x.shape);
    if (gamma) y = this.mul(y, this.checkVec("layerNorm gamma", gamma, x));
    if (beta) y = this.add(y, this.checkVec("layerNorm beta", beta, x));
    return y;
  }

  /** RMSNorm over the last dim, times weight [D] if given (native). */
  rmsNorm(x: Tensor, weight?: Tensor, eps = 1e-6): Tensor {
    this.f32("rmsNorm", x);
    let y = this.wrap(this.B.ggml_rms_norm(this.ctx, this.contig(x).ptr, eps), x.shape);
    if (weight) y = this.mul(y, this.checkVec("rmsNorm weight", weight, x));
    return y;
  }

  // ---------------------------------------------------------------- linear algebra

  /** a @ bᵀ: a [.., M, K], b [.., N, K] -> [.., M, N]. b's leading dims must divide a's (broadcast, GQA-style). Native, fastest. */
  matmulNT(a: Tensor, b: Tensor): Tensor {
    this.f32("matmulNT", a, b);
    if (a.rank < 2 || b.rank < 2) throw shapeError("matmulNT", `needs rank >= 2, got ${fmt(a)} and ${fmt(b)}`);
    const K = a.shape[a.rank - 1];
    if (b.shape[b.rank - 1] !== K) throw shapeError("matmulNT", `inner dims differ: ${fmt(a)} @ ${fmt(b)}ᵀ`);
    const [ba, bb] = rightAlign(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (!canRepeat(bb, ba)) throw shapeError("matmulNT", `batch dims of ${fmt(b)} must divide those of ${fmt(a)}`);
    const bt = b.strides[b.rank - 1] === 1 ? b : this.cont(b);
    const out = [...ba, a.shape[a.rank - 2], b.shape[b.rank - 2]];
    checkShape(out, "matmulNT");
    // A contiguous left operand (ggml's src1) lets ggml use its tiled sgemm instead of per-row dot products: for
    // attention on permuted head views, 622 -> 449 ms CPU per fwd+bwd (bench/engine/parts.ts att.view vs att.contQ).
    return this.wrap(this.B.ggml_mul_mat(this.ctx, bt.ptr, this.reshapeTo(this.cont(a), [...ba, ...a.shape.slice(-2)]).ptr), out);
  }

  /** a @ b: a [.., M, K], b [.., K, N] -> [.., M, N] (b is transposed and made contiguous). */
  matmul(a: Tensor, b: Tensor): Tensor {
    if (b.rank < 2) throw shapeError("matmul", `needs rank >= 2, got ${fmt(b)}`);
    return this.matmulNT(a, this.cont(this.transpose(b)));
  }

  /**
   * x [.., in] · W[out, in]ᵀ + bias[out] (PyTorch nn.Linear layout). W may be a packed frozen parameter (quantized,
   * F16): ggml multiplies it as stored, with the activations converted to its dot-product type, as llama.cpp does.
   */
  linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
    this.f32("linear", x);
    this.f32OrPacked("linear", weight);
    if (weight.rank !== 2) throw shapeError("linear", `weight must be [out, in], got ${fmt(weight)}`);
    if (x.shape[x.rank - 1] !== weight.shape[1]) throw shapeError("linear", `x ${fmt(x)} does not match weight ${fmt(weight)} (in = ${weight.shape[1]})`);
    const out = [...x.shape.slice(0, -1), weight.shape[0]];
    // The gradient to x of a packed W is OUT_PROD(W, dyᵀ), whose CPU kernel asserts on batch dims it would have to
    // broadcast W over: x goes in as one [rows, in] matrix.
    const xin = weight.dtype === "f32" ? this.contig(x) : this.reshape(x, [x.numel / weight.shape[1], weight.shape[1]]);
    let y = this.reshapeTo(this.wrap(this.B.ggml_mul_mat(this.ctx, weight.ptr, xin.ptr), [...xin.shape.slice(0, -1), weight.shape[0]]), out);
    if (bias) {
      if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) throw shapeError("linear", `bias ${fmt(bias)} must be [${weight.shape[0]}]`);
      y = this.add(y, bias);
    }
    return y;
  }

  // ---------------------------------------------------------------- indexing

  /** table [V, D] rows at ids (i32, any shape) -> [...ids.shape, D]. Ids must be in [0, V) (checked by the graph at run). */
  embedding(table: Tensor, ids: Tensor): Tensor {
    this.f32OrPacked("embedding", table); // GET_ROWS converts packed rows to F32
    if (ids.dtype !== "i32") throw shapeError("embedding", `ids must be i32, got ${ids.dtype}`);
    if (table.rank !== 2) throw shapeError("embedding", `table must be [V, D], got ${fmt(table)}`);
    const flat = this.reshape(ids, [ids.numel]);
    const rows = this.wrap(this.B.ggml_get_rows(this.ctx, table.ptr, flat.ptr), [ids.numel, table.shape[1]]);
    return this.reshape(rows, [...ids.shape, table.shape[1]]);
  }

  /** x [N, D] rows at idx (i32 [M]) -> [M, D]. Selects valid positions; gradient scatters back (native GET_ROWS). */
  gatherRows(x: Tensor, idx: Tensor): Tensor {
    if (x.rank !== 2) throw shapeError("gatherRows", `x must be [N, D], got ${fmt(x)}`);
    if (idx.dtype !== "i32" || idx.rank !== 1) throw shapeError("gatherRows", `idx must be i32 [M], got ${idx.dtype}${fmt(idx)}`);
    return this.embedding(this.contig(x), idx);
  }

  /**
   * x [.., 2h] with the two halves of its last dim swapped: [b | a] for [a | b]. One GET_ROWS over rows of h (the
   * gradient scatters back) instead of concat's two copies through zeros; complex vectors stored [re | im] use it for
   * the cross terms of a product.
   */
  swapHalves(x: Tensor): Tensor {
    this.f32("swapHalves", x);
    const C = x.shape[x.rank - 1];
    if (x.rank < 1 || C % 2 !== 0) throw shapeError("swapHalves", `the last dim of ${fmt(x)} must be even`);
    const rows = x.numel / (C / 2);
    let idx = this.swapIndexes.get(rows);
    if (!idx) {
      idx = this.newTensor([rows], "i32", "swapHalves index");
      this.hidden.push({ kind: "constant", tensor: idx, data: Int32Array.from({ length: rows }, (_, i) => i ^ 1) });
      this.swapIndexes.set(rows, idx);
    }
    const swapped = this.wrap(this.B.ggml_get_rows(this.ctx, this.reshape(x, [rows, C / 2]).ptr, idx.ptr), [rows, C / 2]);
    return this.reshape(swapped, x.shape);
  }

  // ---------------------------------------------------------------- layout

  /** Same data, new shape (numel must match). Non-contiguous inputs are copied first. */
  reshape(x: Tensor, shape: Shape): Tensor {
    checkShape(shape, "reshape");
    if (numel(shape) !== x.numel) throw shapeError("reshape", `cannot reshape ${fmt(x)} (${x.numel}) to ${fmt(shape)}`);
    if (sameShape(shape, x.shape)) return x;
    const c = this.contig(x);
    const ne = toNe(shape);
    const ptr = this.B.ggml_reshape_4d(this.ctx, c.ptr, ne[0], ne[1], ne[2], ne[3]);
    this.tensorsCreated++;
    return new Tensor(ptr, shape, x.dtype);
  }

  /** PyTorch permute: output dim j is input dim dims[j]. A view; follow with cont() where an op needs contiguity. */
  permute(x: Tensor, dims: readonly number[]): Tensor {
    const r = x.rank;
    if (dims.length !== r || [...dims].sort().some((d, i) => d !== i)) throw shapeError("permute", `dims [${dims}] is not a permutation of rank ${r}`);
    if (r < 2) return x;
    // ggml_permute(ax): source ggml axis i goes to ggml position ax[i]. Torch dim d <-> ggml axis r-1-d.
    const ax = [0, 1, 2, 3];
    for (let j = 0; j < r; j++) ax[r - 1 - dims[j]] = r - 1 - j;
    // Permute's gradient is a permuted (strided) view, and several ggml backward ops (REPEAT_BACK behind broadcast
    // ADD/MUL, CONT) assert a contiguous one. A same-shape RESHAPE in front makes ggml cont() the gradient there.
    const xc = this.cont(x);
    const ne = toNe(x.shape);
    const barrier = this.B.ggml_reshape_4d(this.ctx, xc.ptr, ne[0], ne[1], ne[2], ne[3]);
    const ptr = this.B.ggml_permute(this.ctx, barrier, ax[0], ax[1], ax[2], ax[3]);
    this.tensorsCreated += 2;
    return new Tensor(ptr, dims.map((d) => x.shape[d]), x.dtype, dims.map((d) => xc.strides[d]));
  }

  /** Swap the last two dims (a view). */
  transpose(x: Tensor): Tensor {
    if (x.rank < 2) throw shapeError("transpose", `needs rank >= 2, got ${fmt(x)}`);
    const dims = x.shape.map((_, i) => i);
    dims[x.rank - 1] = x.rank - 2;
    dims[x.rank - 2] = x.rank - 1;
    return this.permute(x, dims);
  }

  /** A contiguous copy (no-op when already contiguous). */
  cont(x: Tensor): Tensor {
    if (x.isContiguous) return x;
    return this.wrap(this.B.ggml_cont(this.ctx, x.ptr), x.shape, x.dtype);
  }

  /** x[.., start:start+length, ..] along `dim` (a view; negative dim counts from the end). */
  slice(x: Tensor, dim: number, start: number, length: number): Tensor {
    const d = dim < 0 ? x.rank + dim : dim;
    if (d < 0 || d >= x.rank) throw shapeError("slice", `dim ${dim} out of range for ${fmt(x)}`);
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || start + length > x.shape[d]) {
      throw shapeError("slice", `[${start}, ${start + length}) out of range for dim ${d} of ${fmt(x)}`);
    }
    const shape = [...x.shape];
    shape[d] = length;
    const ne = toNe(shape);
    const esz = 4;
    const st = x.strides;
    const r = x.rank;
    // Past the rank, each stride spans the view's own previous dim (ggml_is_padded_1d checks that, e.g. in SCALE).
    const nb = [esz, 0, 0, 0];
    for (let i = 1; i < 4; i++) nb[i] = i < r ? st[r - 1 - i] * esz : nb[i - 1] * ne[i - 1];
    nb.shift();
    if (st[r - 1] !== 1) throw shapeError("slice", `innermost dim of ${fmt(x)} is strided; call cont() first`);
    const ptr = this.B.ggml_view_4d(this.ctx, x.ptr, ne[0], ne[1], ne[2], ne[3], nb[0], nb[1], nb[2], start * st[d] * esz);
    this.tensorsCreated++;
    return new Tensor(ptr, shape, x.dtype, st);
  }

  /**
   * x with `part` added to its slice [start, start + part.shape[dim]) along `dim` (ggml's ACC: one copy of x, the
   * addition over the slice only; gradients: x gets the output's, part the slice's). Shapes must match outside `dim`.
   */
  addInto(x: Tensor, part: Tensor, dim: number, start: number): Tensor {
    const d = dim < 0 ? x.rank + dim : dim;
    this.f32("addInto", x, part);
    if (d < 0 || d >= x.rank) throw shapeError("addInto", `dim ${dim} out of range for ${fmt(x)}`);
    if (part.rank !== x.rank || part.shape.some((n, i) => i !== d && n !== x.shape[i])) throw shapeError("addInto", `${fmt(part)} does not fit ${fmt(x)} outside dim ${d}`);
    if (!Number.isInteger(start) || start < 0 || start + part.shape[d] > x.shape[d]) throw shapeError("addInto", `[${start}, ${start + part.shape[d]}) out of range for dim ${d} of ${fmt(x)}`);
    const xc = this.cont(x);
    const strides = contiguousStrides(x.shape);
    const r = x.rank;
    const nb = [1, 2, 3].map((i) => (i < r ? strides[r - 1 - i] * 4 : x.numel * 4));
    return this.wrap(this.B.ggml_acc(this.ctx, xc.ptr, this.cont(part).ptr, nb[0], nb[1], nb[2], start * strides[d] * 4), x.shape);
  }

  /** Concatenate along `dim` (composed from ACC into zeros: ggml's CONCAT has no backward). */
  concat(parts: readonly Tensor[], dim: number): Tensor {
    if (parts.length === 0) throw shapeError("concat", "no tensors");
    if (parts.length === 1) return parts[0];
    const first = parts[0];
    const d = dim < 0 ? first.rank + dim : dim;
    if (d < 0 || d >= first.rank) throw shapeError("concat", `dim ${dim} out of range for ${fmt(first)}`);
    for (const p of parts) {
      this.f32("concat", p);
      if (p.rank !== first.rank || p.shape.some((n, i) => i !== d && n !== first.shape[i])) {
        throw shapeError("concat", `shapes ${parts.map((q) => fmt(q)).join(", ")} differ outside dim ${d}`);
      }
    }
    const shape = [...first.shape];
    shape[d] = parts.reduce((s, p) => s + p.shape[d], 0);
    checkShape(shape, "concat");
    const key = shape.join("x");
    let acc = this.zeroBases.get(key) ?? this.constant(0, shape);
    this.zeroBases.set(key, acc);
    let offset = 0;
    for (const p of parts) {
      acc = this.addInto(acc, p, d, offset);
      offset += p.shape[d];
    }
    return acc;
  }

  // ---------------------------------------------------------------- attention, pooling, convolution, rope

  /**
   * Softmax over the last dim of x [.., Lq, Lk] with optional scale, causal mask and additive mask, as ONE native
   * SOFT_MAX: the causal mask is a constant [Lq, Lk] of 0 and -inf (one per shape and offset in a graph) added to the
   * user's mask, not a DIAG_MASK_INF node, whose backward (DIAG_MASK_ZERO) is a second pass over the scores' gradient:
   * the same values bit for bit (a visible key adds 0). The mask gets no gradient.
   */
  softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
    this.f32("softmax", x);
    const a = this.contig(x);
    let mask: Tensor | undefined;
    if (options.mask) {
      const m = options.mask;
      this.f32("softmax mask", m);
      const [sx, sm] = rightAlign(x.shape, m.shape);
      const r = sx.length;
      if (r < 2 || sm[r - 1] !== sx[r - 1] || sm[r - 2] !== sx[r - 2]) {
        throw shapeError("softmax", `mask ${fmt(m)} must end with [Lq, Lk] = [${sx.slice(-2)}] of x ${fmt(x)}`);
      }
      if (!canRepeat(sm, sx)) throw shapeError("softmax", `mask ${fmt(m)} does not broadcast to ${fmt(x)}`);
      mask = this.reshapeTo(m, sm);
    }
    if (options.causal) {
      if (x.rank < 2) throw shapeError("softmax", `causal needs rank >= 2, got ${fmt(x)}`);
      const offset = options.causalOffset ?? 0;
      if (!(Number.isInteger(offset) && offset >= 0)) throw shapeError("softmax", `causalOffset must be a non-negative integer, got ${offset}`);
      const causal = this.causalMask(x.shape[x.rank - 2], x.shape[x.rank - 1], offset);
      mask = mask ? this.add(mask, causal) : causal;
    } else if (options.causalOffset !== undefined) {
      throw shapeError("softmax", "causalOffset needs causal: true");
    }
    const maskPtr: Ptr = mask ? this.contig(mask).ptr : null;
    const y = this.wrap(this.B.ggml_soft_max_ext(this.ctx, a.ptr, maskPtr, options.scale ?? 1, 0), x.shape);
    // SOFT_MAX_BACK reads y after copying dy into dx; gallocr may place dx in y's buffer (in-place) and corrupt
    // the gradient (measured: wrong grads for softmax->reshape). Outputs are never reused, so pin y.
    if (this.training) this.B.ggml_set_output(y.ptr);
    return y;
  }

  /** The constant [Lq, Lk] mask holding 0 where key k is visible to query row q (k <= q + offset), -inf after; one per shape in a graph. */
  private causalMask(Lq: number, Lk: number, offset: number): Tensor {
    const key = `${Lq}x${Lk}+${offset}`;
    let m = this.causalMasks.get(key);
    if (!m) {
      const data = new Float32Array(Lq * Lk);
      for (let q = 0; q < Lq; q++) data.fill(-Infinity, Math.min(Lk, q + offset + 1) + q * Lk, (q + 1) * Lk);
      m = this.constant(data, [Lq, Lk]);
      this.causalMasks.set(key, m);
    }
    return m;
  }

  /**
   * Max pooling over the last dim: x [.., T] -> [.., floor((T - kernel) / stride) + 1] (native POOL_2D with a 1-high window).
   * kernel = T pools over all time (Caser).
   */
  maxPool1d(x: Tensor, kernel: number, stride = kernel): Tensor {
    this.f32("maxPool1d", x);
    const T = x.shape[x.rank - 1];
    if (!Number.isInteger(kernel) || kernel < 1 || kernel > T || !Number.isInteger(stride) || stride < 1) {
      throw shapeError("maxPool1d", `kernel ${kernel} / stride ${stride} invalid for ${fmt(x)}`);
    }
    const outT = Math.floor((T - kernel) / stride) + 1;
    const shape = [...x.shape.slice(0, -1), outT];
    return this.wrap(this.B.ggml_pool_2d(this.ctx, this.contig(x).ptr, GGML_OP_POOL.MAX, kernel, 1, stride, 1, 0, 0), shape);
  }

  /**
   * 1-D convolution (PyTorch Conv1d, stride 1, no groups): x [B, C, L], weight [OC, C, K], bias [OC] -> [B, OC, Lout],
   * Lout = L + 2·padding - dilation·(K-1). Composed as Σ_k (time-shifted slice of x) · W[:, :, k]ᵀ: ggml's IM2COL
   * backward segfaults for 1-D in this build. The result is a permuted view; cont() it if needed.
   */
  conv1d(x: Tensor, weight: Tensor, bias?: Tensor, options: { padding?: number; dilation?: number } = {}): Tensor {
    this.f32("conv1d", x, weight);
    if (x.rank !== 3 || weight.rank !== 3) throw shapeError("conv1d", `x must be [B, C, L] and weight [OC, C, K], got ${fmt(x)}, ${fmt(weight)}`);
    const [B, C, L] = x.shape;
    const [OC, WC, K] = weight.shape;
    const p = options.padding ?? 0;
    const dl = options.dilation ?? 1;
    if (WC !== C) throw shapeError("conv1d", `x has ${C} channels, weight expects ${WC}`);
    if (!Number.isInteger(p) || p < 0 || !Number.isInteger(dl) || dl < 1) throw shapeError("conv1d", `bad padding ${p} / dilation ${dl}`);
    const OL = L + 2 * p - dl * (K - 1);
    if (OL < 1) throw shapeError("conv1d", `kernel ${K} (dilation ${dl}) longer than padded input ${L + 2 * p}`);
    let xt = this.cont(this.permute(x, [0, 2, 1])); // [B, L, C]
    if (p > 0) {
      const z = this.constant(0, [B, p, C]);
      xt = this.concat([z, xt, z], 1);
    }
    let y: Tensor | undefined;
    for (let k = 0; k < K; k++) {
      const wk = this.reshape(this.cont(this.slice(weight, 2, k, 1)), [OC, C]);
      const term = this.linear(this.cont(this.slice(xt, 1, k * dl, OL)), wk); // [B, OL, OC]
      y = y ? this.add(y, term) : term;
    }
    if (bias) {
      if (bias.rank !== 1 || bias.shape[0] !== OC) throw shapeError("conv1d", `bias ${fmt(bias)} must be [${OC}]`);
      y = this.add(y!, bias);
    }
    return this.permute(y!, [0, 2, 1]);
  }

  /**
   * Rotary position embedding on x [B, L, H, Dh] with positions (i32 [L]: position l of every row) (native ROPE,
   * backward to x only). For one position per token of a batch, flatten it: x [1, B·L, H, Dh], positions [B·L].
   */
  rope(x: Tensor, positions: Tensor, options: RopeOptions = {}): Tensor {
    this.f32("rope", x);
    if (x.rank !== 4) throw shapeError("rope", `x must be [B, L, H, Dh], got ${fmt(x)}`);
    if (positions.dtype !== "i32" || positions.rank !== 1 || positions.shape[0] !== x.shape[1]) {
      throw shapeError("rope", `positions must be i32 [${x.shape[1]}], got ${positions.dtype}${fmt(positions)}`);
    }
    const nDims = options.nDims ?? x.shape[3];
    if (nDims % 2 !== 0 || nDims > x.shape[3]) throw shapeError("rope", `nDims ${nDims} must be even and <= ${x.shape[3]}`);
    const freqScale = options.freqScale ?? 1;
    if (!(Number.isFinite(freqScale) && freqScale > 0)) throw shapeError("rope", `freqScale must be a positive number, got ${freqScale}`);
    const ff = options.freqFactors;
    if (ff) {
      this.f32("rope freqFactors", ff);
      if (ff.rank !== 1 || ff.shape[0] < nDims / 2) throw shapeError("rope", `freqFactors must be f32 [>= ${nDims / 2}], got ${fmt(ff)}`);
      // ggml_compute_backward asserts (aborting the process) when the factors would need a gradient.
      const isInput = [...this.inputs.values()].some((s) => s.tensor === ff);
      if (!(ff instanceof Param ? !ff.trainable : isInput)) throw shapeError("rope", "freqFactors must be a frozen parameter or a graph input (ggml has no gradient for them)");
    }
    const mode = (options.mode ?? "neox") === "neox" ? GGML_ROPE_TYPE.NEOX : GGML_ROPE_TYPE.NORMAL;
    const ptr = this.B.ggml_rope_ext(this.ctx, this.contig(x).ptr, positions.ptr, ff ? ff.ptr : null, nDims, mode, 0, options.base ?? 10000, freqScale, 0, 1, 0, 0);
    return this.wrap(ptr, x.shape);
  }

  // ---------------------------------------------------------------- losses

  /**
   * Mean cross-entropy of logits [N, V] against integer targets (i32 input [N]) over rows whose target is not
   * `ignoreIndex`; ignored rows get exactly zero gradient. Composed: -Σ w·log(softmax(logits)[target] + 1e-30),
   * the target probabilities picked with GET_ROWS, w = 1/nValid (0 for ignored rows), computed when `targets` is set.
   * `targets` must be a graph input (b.input(..., "i32")). Returns a scalar.
   */
  crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
    this.f32("crossEntropy", logits);
    if (logits.rank !== 2) throw shapeError("crossEntropy", `logits must be [N, V], got ${fmt(logits)}`);
    const [N, V] = logits.shape;
    if (targets.dtype !== "i32" || targets.numel !== N) throw shapeError("crossEntropy", `targets must be i32 with ${N} values, got ${targets.dtype}${fmt(targets)}`);
    const src = [...this.inputs.values()].find((s) => s.tensor === targets);
    if (!src) throw shapeError("crossEntropy", "targets must be a graph input created with b.input(name, shape, 'i32')");
    const ignore = options.ignoreIndex;
    const flatIdx = this.newTensor([N], "i32", "crossEntropy index");
    const weights = this.newTensor([N, 1], "f32", "crossEntropy weights");
    const name = src.name;
    this.hidden.push({
      kind: "derived",
      tensor: flatIdx,
      from: name,
      fill: (t) => {
        const out = new Int32Array(N);
        for (let i = 0; i < N; i++) {
          const y = t[i];
          if (y === ignore) continue;
          if (!(y >= 0 && y < V)) throw new ReclmError("RECLM_ERR_SHAPE", `crossEntropy: target ${y} at row ${i} of input "${name}" is outside [0, ${V})`, { field: name });
          out[i] = i * V + y;
        }
        return out;
      },
    });
    const given = options.weights;
    if (given) {
      if (given.dtype !== "f32" || given.numel !== N) throw shapeError("crossEntropy", `weights must be f32 with ${N} values, got ${given.dtype}${fmt(given)}`);
      if (![...this.inputs.values()].some((s) => s.tensor === given)) throw shapeError("crossEntropy", "weights must be a graph input created with b.input(name, shape)");
    }
    this.hidden.push({
      kind: "derived",
      tensor: weights,
      from: name,
      fill: (t) => {
        let valid = 0;
        for (let i = 0; i < N; i++) if (t[i] !== ignore) valid++;
        const out = new Float32Array(N);
        // With given weights this is the 0/1 mask of the rows that count; the weights themselves multiply it below.
        if (valid > 0) for (let i = 0; i < N; i++) out[i] = t[i] === ignore ? 0 : given ? 1 : 1 / valid;
        return out;
      },
    });
    const probs = this.softmax(logits);
    const picked = this.wrap(this.B.ggml_get_rows(this.ctx, this.reshape(probs, [N * V, 1]).ptr, flatIdx.ptr), [N, 1]);
    const logp = this.log(this.addScalar(picked, 1e-30));
    const w = given ? this.mul(weights, this.reshape(given, [N, 1])) : weights;
    return this.neg(this.sum(this.mul(logp, w)));
  }

  // ---------------------------------------------------------------- internals

  /** @internal */
  newTensor(shape: Shape, dtype: InputDType, what: string): Tensor {
    checkShape(shape, what);
    const ne = toNe(shape);
    const ptr = this.B.ggml_new_tensor_4d(this.ctx, dtype === "i32" ? GGML_TYPE.I32 : GGML_TYPE.F32, ne[0], ne[1], ne[2], ne[3]);
    if (!ptr) throw new ReclmError("RECLM_ERR_ENGINE", `ggml context full creating ${what}; raise compile({ maxNodes })`);
    this.tensorsCreated++;
    return new Tensor(ptr, shape, dtype);
  }

  private wrap(ptr: Ptr, shape: Shape, dtype: DType = "f32"): Tensor {
    if (!ptr) throw new ReclmError("RECLM_ERR_ENGINE", "ggml context full; raise compile({ maxNodes })");
    this.tensorsCreated++;
    return new Tensor(ptr, shape, dtype);
  }

  private contig(x: Tensor): Tensor {
    return this.cont(x);
  }

  private reshapeTo(x: Tensor, shape: Shape): Tensor {
    return sameShape(x.shape, shape) ? x : this.reshape(x, shape);
  }

  private unary(op: string, x: Tensor, f: (ctx: Ptr, a: Ptr) => Ptr): Tensor {
    this.f32(op, x);
    return this.wrap(f(this.ctx, this.contig(x).ptr), x.shape);
  }

  private broadcastBinary(op: string, a: Tensor, b: Tensor, f: (x: Ptr, y: Ptr) => Ptr): Tensor {
    this.f32(op, a, b);
    const [sa, sb] = rightAlign(a.shape, b.shape);
    let big = a, small = b, sBig = sa, sSmall = sb;
    if (!canRepeat(sb, sa)) {
      if (!canRepeat(sa, sb)) throw shapeError(op, `shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
      big = b; small = a; sBig = sb; sSmall = sa;
    }
    const bigR = this.reshapeTo(this.contig(big), sBig);
    const smallR = this.reshapeTo(this.contig(small), sSmall);
    return this.wrap(f(bigR.ptr, smallR.ptr), sBig);
  }

  private checkVec(what: string, v: Tensor, x: Tensor): Tensor {
    const D = x.shape[x.rank - 1];
    if (v.numel !== D || v.shape[v.rank - 1] !== D) throw shapeError(what, `must be [${D}] for x ${fmt(x)}, got ${fmt(v)}`);
    return v;
  }

  private f32(op: string, ...ts: Tensor[]): void {
    for (const t of ts) if (t.dtype !== "f32") throw shapeError(op, `expects f32 tensors, got ${t.dtype}${fmt(t)}`);
  }

  /** An F32 tensor, or a packed frozen parameter (the linear weight and embedding table ggml reads as stored). */
  private f32OrPacked(op: string, t: Tensor): void {
    if (t.dtype === "i32") throw shapeError(op, `expects an f32 or packed tensor, got ${t.dtype}${fmt(t)}`);
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Pads the shorter shape with leading 1s. */
function rightAlign(a: Shape, b: Shape): [number[], number[]] {
  const r = Math.max(a.length, b.length);
  const pad = (s: Shape) => [...new Array<number>(r - s.length).fill(1), ...s];
  return [pad(a), pad(b)];
}

/** ggml_can_repeat: every dim of `small` divides the matching dim of `big`. */
function canRepeat(small: Shape, big: Shape): boolean {
  return small.length === big.length && small.every((n, i) => big[i] % n === 0);
}
