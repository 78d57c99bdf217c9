import { ReclmError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { Engine } from "./engine.ts";
import { GGML_TYPE, type Ptr } from "./ffi/ggml.ts";
import { PACKED_TYPE_ID, dequantize, ggmlTypeBytes } from "./quant.ts";
import { checkShape, numel, Tensor, toNe, type PackedType, type Shape } from "./tensor.ts";
import { NativeResource } from "./native-resource.ts";

/** How a parameter is filled by `ParamStore.initialize`. */
export type Init =
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "constant"; value: number }
  | { kind: "normal"; std: number; mean?: number }
  /** Normal(0, std) resampled until |x| <= bound (LRURec: std 0.02, bound 0.04). */
  | { kind: "truncNormal"; std: number; bound: number }
  | { kind: "uniform"; low: number; high: number }
  /** Glorot uniform over the last two dims (fanIn = shape[-1], fanOut = shape[-2]), PyTorch's xavier_uniform_. */
  | { kind: "xavierUniform" }
  | { kind: "data"; data: Float32Array }
  /** Values read when the store is initialized, not held by the parameter afterwards (weights from a file). */
  | { kind: "load"; load: () => Float32Array }
  /**
   * A frozen tensor kept in ggml's stored form (quantized blocks, F16, BF16: `PackedType`), its raw bytes read at
   * initialize. Usable as a linear weight and an embedding table only; never trainable.
   */
  | { kind: "packed"; type: PackedType; load: () => Uint8Array };

export interface ParamOptions {
  /** Default: truncNormal(0.02, 0.04) for rank >= 2, zeros for rank 1. */
  init?: Init;
  /** AdamW weight decay applies to this parameter. Default: true for rank >= 2, false for rank 1 (bias, norm gains). */
  decay?: boolean;
  /** Frozen parameters take part in graphs but get no gradient and no optimizer step. Default true. */
  trainable?: boolean;
}

/** A named parameter tensor: usable in any graph built on the same engine. */
export class Param extends Tensor {
  readonly name: string;
  readonly decay: boolean;
  readonly trainable: boolean;
  readonly init: Init;

  /** @internal */
  constructor(ptr: Ptr, name: string, shape: Shape, init: Init, decay: boolean, trainable: boolean) {
    super(ptr, shape, init.kind === "packed" ? init.type : "f32");
    this.name = name;
    this.init = init;
    this.decay = decay;
    this.trainable = trainable;
  }
}

/**
 * Named f32 parameters in one backend buffer. Declare all with `add`, then `initialize(rng)` once
 * (allocates and fills them in declaration order, so the same seed gives the same weights).
 */
export class ParamStore extends NativeResource {
  readonly engine: Engine;
  private readonly ctx: Ptr;
  private buffer: Ptr | null = null;
  private readonly params: Param[] = [];
  private readonly byName = new Map<string, Param>();

  constructor(engine: Engine, options: { maxParams?: number } = {}) {
    super();
    engine.assertAlive();
    this.engine = engine;
    const max = options.maxParams ?? 4096;
    const B = engine.ggml.base;
    this.ctx = B.ggml_init({ mem_size: Number(B.ggml_tensor_overhead()) * max + 1024, mem_buffer: null, no_alloc: true });
    if (!this.ctx) throw new ReclmError("RECLM_ERR_ENGINE", `ParamStore: ggml_init failed for ${max} parameters (out of memory?)`);
  }

  add(name: string, shape: Shape, options: ParamOptions = {}): Param {
    this.assertAlive();
    if (this.buffer) throw new ReclmError("RECLM_ERR_ENGINE", `param "${name}": cannot add after initialize()`);
    if (this.byName.has(name)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `duplicate parameter name "${name}"`);
    checkShape(shape, `param "${name}"`);
    if (Buffer.byteLength(name) >= 64) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `param name too long (ggml limit 63 bytes): "${name}"`);
    const B = this.engine.ggml.base;
    const ne = toNe(shape);
    const rank2 = shape.length >= 2;
    const init = options.init ?? (rank2 ? { kind: "truncNormal", std: 0.02, bound: 0.04 } : { kind: "zeros" });
    if (init.kind === "data" && init.data.length !== numel(shape)) {
      throw new ReclmError("RECLM_ERR_SHAPE", `param "${name}": init data has ${init.data.length} values, shape [${shape}] needs ${numel(shape)}`);
    }
    const packed = init.kind === "packed";
    if (packed) {
      if (!Object.hasOwn(PACKED_TYPE_ID, init.type)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `param "${name}": ggml type "${init.type}" cannot be kept packed (${Object.keys(PACKED_TYPE_ID).join(", ")})`, { field: name });
      if (options.trainable) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `param "${name}" is stored as ${init.type}: only F32 parameters train`, { field: name });
      // ggml asserts (aborting) on a row that is not a whole number of blocks.
      ggmlTypeBytes(PACKED_TYPE_ID[init.type], numel(shape), shape[shape.length - 1]);
    }
    const ptr = B.ggml_new_tensor_4d(this.ctx, packed ? PACKED_TYPE_ID[init.type] : GGML_TYPE.F32, ne[0], ne[1], ne[2], ne[3]);
    B.ggml_set_name(ptr, name);
    const p = new Param(ptr, name, shape, init, options.decay ?? rank2, options.trainable ?? !packed);
    if (p.trainable) B.ggml_set_param(ptr);
    this.params.push(p);
    this.byName.set(name, p);
    return p;
  }

  /** Allocates every declared parameter and fills it from its `init`, drawing from `rng` in declaration order. */
  initialize(rng: Rng): void {
    this.assertAlive();
    if (this.buffer) throw new ReclmError("RECLM_ERR_ENGINE", "ParamStore.initialize called twice");
    if (this.params.length === 0) throw new ReclmError("RECLM_ERR_ENGINE", "ParamStore has no parameters");
    this.buffer = this.engine.ggml.base.ggml_backend_alloc_ctx_tensors_from_buft(this.ctx, this.engine.bufferType);
    if (!this.buffer) throw new ReclmError("RECLM_ERR_ENGINE", "could not allocate parameter buffer");
    for (const p of this.params) {
      if (p.init.kind !== "packed") {
        this.write(p, fillInit(p.init, p.shape, rng));
        continue;
      }
      const bytes = p.init.load();
      const want = Number(this.engine.ggml.base.ggml_nbytes(p.ptr));
      if (bytes.length !== want) throw new ReclmError("RECLM_ERR_SHAPE", `param "${p.name}": ${bytes.length} bytes of ${p.dtype}, shape [${p.shape}] needs ${want}`, { field: p.name });
      this.engine.ggml.base.ggml_backend_tensor_set(p.ptr, bytes, 0, bytes.length);
    }
  }

  /** Bytes of the parameter buffer (what the parameters hold resident). */
  get bytes(): number {
    this.assertReady();
    return Number(this.engine.ggml.base.ggml_backend_buffer_get_size(this.buffer));
  }

  get isInitialized(): boolean {
    return this.buffer !== null;
  }

  get(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `no parameter named "${name}"`);
    return p;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  list(): readonly Param[] {
    return this.params;
  }

  /** Total number of scalar parameters. */
  get size(): number {
    return this.params.reduce((s, p) => s + p.numel, 0);
  }

  /** An F32 parameter's values (a packed one refuses: see `readDequantized`). */
  read(p: Param | string): Float32Array {
    const param = typeof p === "string" ? this.get(p) : p;
    this.assertReady();
    if (param.dtype !== "f32") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `param "${param.name}" is stored as ${param.dtype}; read its values with readDequantized`, { field: param.name });
    const out = new Float32Array(param.numel);
    this.engine.ggml.base.ggml_backend_tensor_get(param.ptr, out, 0, out.byteLength);
    return out;
  }

  /** Any parameter's values as F32 (a packed one converted by ggml's own routine). */
  readDequantized(p: Param | string): Float32Array {
    const param = typeof p === "string" ? this.get(p) : p;
    if (param.dtype === "f32") return this.read(param);
    this.assertReady();
    const raw = new Uint8Array(Number(this.engine.ggml.base.ggml_nbytes(param.ptr)));
    this.engine.ggml.base.ggml_backend_tensor_get(param.ptr, raw, 0, raw.byteLength);
    return dequantize(PACKED_TYPE_ID[param.dtype as PackedType], raw, param.numel, param.shape[param.rank - 1]);
  }

  write(p: Param | string, data: Float32Array): void {
    const param = typeof p === "string" ? this.get(p) : p;
    this.assertReady();
    if (param.dtype !== "f32") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `param "${param.name}" is stored as ${param.dtype} and frozen; it cannot be written`, { field: param.name });
    if (data.length !== param.numel) {
      throw new ReclmError("RECLM_ERR_SHAPE", `param "${param.name}": got ${data.length} values, shape [${param.shape}] needs ${param.numel}`);
    }
    this.engine.ggml.base.ggml_backend_tensor_set(param.ptr, data, 0, data.byteLength);
  }

  /** @internal */
  assertReady(): void {
    this.assertAlive();
    if (!this.buffer) throw new ReclmError("RECLM_ERR_ENGINE", "ParamStore used before initialize(rng)");
  }

  private assertAlive(): void {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "ParamStore was disposed");
    this.engine.assertAlive();
  }

  protected free(): void {
    const B = this.engine.ggml.base;
    if (this.buffer) B.ggml_backend_buffer_free(this.buffer);
    B.ggml_free(this.ctx);
  }
}

export function fillInit(init: Init, shape: Shape, rng: Rng): Float32Array {
  const n = numel(shape);
  const out = new Float32Array(n);
  switch (init.kind) {
    case "zeros":
      return out;
    case "ones":
      return out.fill(1);
    case "constant":
      return out.fill(init.value);
    case "data":
      return Float32Array.from(init.data);
    case "load": {
      const data = init.load();
      if (data.length !== n) throw new ReclmError("RECLM_ERR_SHAPE", `init load gave ${data.length} values, shape [${shape}] needs ${n}`);
      return data;
    }
    case "packed":
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `a packed ${init.type} init holds bytes, not values`);
    case "normal":
      for (let i = 0; i < n; i++) out[i] = (init.mean ?? 0) + init.std * rng.normal();
      return out;
    case "truncNormal":
      for (let i = 0; i < n; i++) {
        let x: number;
        do x = init.std * rng.normal();
        while (Math.abs(x) > init.bound);
        out[i] = x;
      }
      return out;
    case "uniform":
      for (let i = 0; i < n; i++) out[i] = init.low + (init.high - init.low) * rng.next();
      return out;
    case "xavierUniform": {
      const fanIn = shape[shape.length - 1];
      const fanOut = shape.length >= 2 ? shape[shape.length - 2] : 1;
      const a = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) out[i] = -a + 2 * a * rng.next();
      return out;
    }
  }
}
