/**
 * ggml's tensor types as stored in GGUF files (F16, BF16, Q8_0, Q4_0, the K-quants, ...): byte sizes, conversion to
 * float and quantization, through ggml's own routines, so reclm reads every type llama.cpp does. Used to load the
 * frozen base weights of a quantized GGUF into reclm's decoder (as F32) and by tests to write quantized models.
 */
import { checkGgmlType, ggmlBytes, ggmlQuantize, ggmlToFloat, GGML_TYPE, loadGgml } from "./ffi/ggml.ts";

/** Bytes of n values of ggml type `type`, in rows of `perRow` values (blocks never straddle rows). */
export function ggmlTypeBytes(type: number, n: number, perRow = n): number {
  return ggmlBytes(loadGgml(), type, n, perRow);
}

/** The name ggml gives a type ("q8_0", "q4_K", ...). */
export function ggmlTypeName(type: number): string {
  checkGgmlType(type);
  return String(loadGgml().base.ggml_type_name(type));
}

/** n values stored as ggml type `type` (rows of `perRow`), as floats. */
export function dequantize(type: number, bytes: Uint8Array, n: number, perRow = n): Float32Array {
  return ggmlToFloat(loadGgml(), type, bytes, n, perRow);
}

/** Values quantized to ggml type `type` (a quantized type, F16 or BF16), in rows of `perRow`. */
export function quantize(type: number, values: Float32Array, perRow = values.length): Uint8Array {
  return ggmlQuantize(loadGgml(), type, values, perRow);
}

export { GGML_TYPE };
