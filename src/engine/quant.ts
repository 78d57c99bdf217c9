/**
 * ggml's tensor types as stored in GGUF files (F16, BF16, Q8_0, Q4_0, the K-quants, ...): byte sizes, conversion to
 * float and quantization, through ggml's own routines, so reclm reads every type llama.cpp does. Used to load the
 * frozen base weights of a quantized GGUF into reclm's decoder (as F32) and by tests to write quantized models.
 */
import { checkGgmlType, ggmlBytes, ggmlQuantize, ggmlToFloat, GGML_TYPE, loadGgml } from "./ffi/ggml.ts";
import type { PackedType } from "./tensor.ts";

/** ggml type ids (ggml.h `enum ggml_type`) of the packed types. */
export const PACKED_TYPE_ID: Readonly<Record<PackedType, number>> = {
  f16: 1, q4_0: 2, q4_1: 3, q5_0: 6, q5_1: 7, q8_0: 8, q2_K: 10, q3_K: 11, q4_K: 12, q5_K: 13, q6_K: 14, iq4_nl: 20, iq4_xs: 23,
};

/** The packed type of a ggml type id, or undefined when parameters cannot keep that type. */
export function packedTypeOf(type: number): PackedType | undefined {
  return (Object.keys(PACKED_TYPE_ID) as PackedType[]).find((k) => PACKED_TYPE_ID[k] === type);
}

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
