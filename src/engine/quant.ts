/**
 * ggml's tensor types as stored in GGUF files (F16, BF16, Q8_0, Q4_0, the K-quants, ...): byte sizes, conversion to
 * float and quantization, through ggml's own routines, so reclm reads every type llama.cpp does. Used to load the
 * frozen base weights of a quantized GGUF into reclm's decoder (as F32) and by tests to write quantized models.
 */
import { ReclmError } from "../errors.ts";
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
  const g = loadGgml();
  ggmlBytes(g, type, values.length, perRow); // the type id and the row layout, checked before ggml reads its tables
  if (!(g.base.ggml_is_quantized(type) || type === GGML_TYPE.F16 || type === GGML_TYPE.BF16)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cannot quantize to ggml type ${type} (${ggmlTypeName(type)})`, { field: "type" });
  }
  return ggmlQuantize(g, type, values, perRow);
}

export { GGML_TYPE };
