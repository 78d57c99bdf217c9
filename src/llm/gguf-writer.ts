/**
 * A small GGUF (v3) writer: metadata + F32, F16 and quantized (Q8_0, Q4_0, Q5_0, Q4_K, Q6_K) tensors. reclm writes its own GGUF files — tiny random models for
 * tests that must not depend on downloaded weights (tiny-llama.ts), and later the LMs it trains — and reads them
 * back with the same reader llama.cpp uses (runtime.ts), so what it writes is what llama.cpp loads.
 *
 * Layout (ggml's gguf.cpp): "GGUF", version u32, tensor count u64, kv count u64; each kv = key string, value type u32,
 * value; each tensor info = name, n_dims u32, ne[] u64 (fastest dimension first), ggml type u32, data offset u64
 * (relative to the data section, aligned); padding to `general.alignment` (32); the data.
 */
import { quantize } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import { writeFileAtomic } from "../io.ts";

/** A typed GGUF metadata value (GGUF stores the type; JavaScript numbers alone cannot say u32 from f32). */
export type GgufValue =
  | { type: "u32" | "i32" | "f32" | "u64"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; of: "string"; value: readonly string[] }
  | { type: "array"; of: "f32" | "i32" | "u32"; value: ArrayLike<number> };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  u64: (value: number): GgufValue => ({ type: "u64", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  str: (value: string): GgufValue => ({ type: "string", value }),
  strings: (value: readonly string[]): GgufValue => ({ type: "array", of: "string", value }),
  f32s: (value: ArrayLike<number>): GgufValue => ({ type: "array", of: "f32", value }),
  i32s: (value: ArrayLike<number>): GgufValue => ({ type: "array", of: "i32", value }),
};

export interface GgufTensorData {
  name: string;
  /** PyTorch order (slowest dimension first), as GgufTensor.shape reads it back. */
  shape: readonly number[];
  data: Float32Array;
  /**
   * Stored type; default "f32". The quantized ones (ggml's block formats, rows of the last dimension) are written by
   * ggml's own quantizer, as llama.cpp's tools write them.
   */
  type?: GgufTensorType;
}

export type GgufTensorType = "f32" | "f16" | "q8_0" | "q4_0" | "q5_0" | "q4_K" | "q6_K";

const ALIGNMENT = 32;
const VALUE_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
const GGML_TYPE_ID: Record<GgufTensorType, number> = { f32: 0, f16: 1, q4_0: 2, q5_0: 6, q8_0: 8, q4_K: 12, q6_K: 14 };
const UTF8 = new TextEncoder();

/** Growable little-endian byte sink. */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(x: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, x, true);
    this.length += 4;
  }
  f32(x: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, x, true);
    this.length += 4;
  }
  u64(x: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(x), true);
    this.length += 8;
  }
  u8(x: number): void {
    this.reserve(1);
    this.buf[this.length++] = x;
  }
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  string(s: string): void {
    const b = UTF8.encode(s);
    this.u64(b.length);
    this.raw(b);
  }
  pad(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(out: Bytes, key: string, v: GgufValue): void {
  const bad = (why: string) => new ReclmError("RECLM_ERR_BAD_CONFIG", `GGUF metadata "${key}": ${why}`, { field: key });
  const int = (x: number, lo: number, hi: number) => {
    if (!Number.isInteger(x) || x < lo || x > hi) throw bad(`${x} is not an integer in [${lo}, ${hi}]`);
    return x;
  };
  switch (v.type) {
    case "u32":
      out.u32(VALUE_TYPE.u32);
      out.u32(int(v.value, 0, 0xffffffff));
      return;
    case "i32":
      out.u32(VALUE_TYPE.i32);
      out.i32(int(v.value, -0x80000000, 0x7fffffff));
      return;
    case "u64":
      out.u32(VALUE_TYPE.u64);
      out.u64(int(v.value, 0, Number.MAX_SAFE_INTEGER));
      return;
    case "f32":
      if (!Number.isFinite(v.value)) throw bad(`${v.value} is not finite`);
      out.u32(VALUE_TYPE.f32);
      out.f32(v.value);
      return;
    case "bool":
      out.u32(VALUE_TYPE.bool);
      out.u8(v.value ? 1 : 0);
      return;
    case "string":
      out.u32(VALUE_TYPE.string);
      out.string(v.value);
      return;
    case "array": {
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE[v.of]);
      out.u64(v.value.length);
      if (v.of === "string") for (const s of v.value as readonly string[]) out.string(s);
      else {
        const xs = v.value as ArrayLike<number>;
        for (let i = 0; i < xs.length; i++) {
          if (v.of === "f32") out.f32(xs[i]);
          else if (v.of === "i32") out.i32(int(xs[i], -0x80000000, 0x7fffffff));
          else out.u32(int(xs[i], 0, 0xffffffff));
        }
      }
      return;
    }
  }
}

/** IEEE half from a float (round to nearest even; overflow to ±Inf). */
export function f32ToF16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is still right (up to Inf)
  return sign | half;
}

function tensorBytes(t: GgufTensorData): Uint8Array {
  const type = t.type ?? "f32";
  if (!(type in GGML_TYPE_ID)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `GGUF tensor "${t.name}": unknown type "${type}"`, { field: t.name });
  if (type === "f32") return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (type === "f16") return new Uint8Array(Uint16Array.from(t.data, f32ToF16).buffer);
  const perRow = t.shape[t.shape.length - 1];
  try {
    return quantize(GGML_TYPE_ID[type], t.data, perRow);
  } catch (e) {
    throw new ReclmError("RECLM_ERR_SHAPE", `GGUF tensor "${t.name}" [${t.shape}] cannot be stored as ${type}: ${(e as Error).message}`, { field: t.name }, { cause: e });
  }
}

export interface EncodeGgufOptions {
  /**
   * Write `general.alignment` (32) first. Default true; gguf-py's writer (llama.cpp's converters) leaves the key
   * out for the default alignment, and readers assume 32 without it.
   */
  alignmentKey?: boolean;
}

/** Serializes a GGUF file: metadata in the given order, then the tensors. */
export function encodeGguf(metadata: Readonly<Record<string, GgufValue>>, tensors: readonly GgufTensorData[], options: EncodeGgufOptions = {}): Uint8Array {
  const out = new Bytes();
  out.raw(UTF8.encode("GGUF"));
  out.u32(3);
  out.u64(tensors.length);
  if (metadata["general.alignment"] && !(metadata["general.alignment"].type === "u32" && metadata["general.alignment"].value === ALIGNMENT)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `GGUF metadata "general.alignment": this writer aligns to ${ALIGNMENT} only`, { field: "general.alignment" });
  }
  const kv = (options.alignmentKey ?? true) ? { "general.alignment": gguf.u32(ALIGNMENT), ...metadata } : metadata;
  out.u64(Object.keys(kv).length);
  for (const [key, value] of Object.entries(kv)) {
    out.string(key);
    writeValue(out, key, value);
  }
  const names = new Set<string>();
  const blobs = tensors.map((t) => {
    if (names.has(t.name)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `GGUF tensor "${t.name}" given twice`, { field: t.name });
    names.add(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length < 1 || t.shape.length > 4 || !t.shape.every((d) => Number.isInteger(d) && d > 0) || n !== t.data.length) {
      throw new ReclmError("RECLM_ERR_SHAPE", `GGUF tensor "${t.name}": shape [${t.shape}] does not hold ${t.data.length} values`, { field: t.name });
    }
    return tensorBytes(t);
  });
  let offset = 0;
  tensors.forEach((t, i) => {
    out.string(t.name);
    out.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) out.u64(d);
    out.u32(GGML_TYPE_ID[t.type ?? "f32"]);
    out.u64(offset);
    offset += Math.ceil(blobs[i].length / ALIGNMENT) * ALIGNMENT;
  });
  out.pad(ALIGNMENT);
  for (const b of blobs) {
    out.raw(b);
    out.pad(ALIGNMENT);
  }
  return out.bytes();
}

/** Writes a GGUF file atomically (never half-written). */
export function writeGguf(path: string, metadata: Readonly<Record<string, GgufValue>>, tensors: readonly GgufTensorData[]): void {
  writeFileAtomic(path, encodeGguf(metadata, tensors));
}
