/**
 * Tensor handles with shapes tracked in TypeScript.
 *
 * DIMENSION ORDER: every shape in reclm's engine API is written PyTorch-style, outermost first, row-major:
 * a batch of sequences of embeddings is [B, L, D] and D is the fastest-moving (contiguous) dimension.
 * ggml stores the same thing as ne = [D, L, B, 1] (ne[0] innermost). The conversion happens only here
 * (`toNe`) and in builder.ts; model code never sees ggml order.
 */
import { ReclmError } from "../errors.ts";
import type { Ptr } from "./ffi/ggml.ts";

/**
 * ggml's block formats (and F16) a frozen parameter may keep as stored in a GGUF file: the types whose MUL_MAT
 * (forward), OUT_PROD (the backward to the activations) and GET_ROWS (embedding rows) ggml's CPU backend computes
 * with the weight as is (test/engine/packed.test.ts checks each against the dequantized weight). Not BF16: ggml's
 * CPU OUT_PROD aborts the process on it ("fatal error", measured with node-llama-cpp 3.21.1's ggml).
 */
export type PackedType = "f16" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q8_0" | "q2_K" | "q3_K" | "q4_K" | "q5_K" | "q6_K" | "iq4_nl" | "iq4_xs";
export type DType = "f32" | "i32" | PackedType;
/** What a graph input holds (Int32Array or Float32Array). */
export type InputDType = "f32" | "i32";
export type Shape = readonly number[];

export class Tensor {
  /** @internal native ggml_tensor pointer */
  readonly ptr: Ptr;
  readonly shape: Shape;
  readonly dtype: DType;
  /** Element strides, PyTorch order (outermost first). Non-standard strides mean a permuted/sliced view. */
  readonly strides: Shape;

  /** @internal */
  constructor(ptr: Ptr, shape: Shape, dtype: DType, strides?: Shape) {
    this.ptr = ptr;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
  }

  get rank(): number {
    return this.shape.length;
  }

  get numel(): number {
    return numel(this.shape);
  }

  get isContiguous(): boolean {
    const s = contiguousStrides(this.shape);
    return this.shape.every((n, i) => n === 1 || s[i] === this.strides[i]);
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(", ")}]`;
  }
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** PyTorch-order shape -> ggml ne[4]. */
export function toNe(shape: Shape): [number, number, number, number] {
  const ne: [number, number, number, number] = [1, 1, 1, 1];
  for (let i = 0; i < shape.length; i++) ne[i] = shape[shape.length - 1 - i];
  return ne;
}

export function shapeError(op: string, message: string): ReclmError {
  return new ReclmError("RECLM_ERR_SHAPE", `${op}: ${message}`, { field: op });
}

export function checkShape(shape: Shape, what: string): void {
  if (shape.length > 4) throw shapeError(what, `rank ${shape.length} > 4 is not supported by ggml (shape [${shape}])`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) throw shapeError(what, `dimensions must be positive integers, got [${shape}]`);
  }
}

export function fmt(t: Tensor | Shape): string {
  const s = t instanceof Tensor ? t.shape : t;
  return `[${s.join(", ")}]`;
}
