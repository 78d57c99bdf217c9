import { describe, expect, it } from "vitest";
import { dequantize, GGML_TYPE, ggmlTypeBytes, ggmlTypeName, quantize } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

const r = new Rng(3);
const x = Float32Array.from({ length: 1024 }, () => r.normal());
const maxErr = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("ggml tensor types through ggml's own converters (engine/quant.ts)", () => {
  // [type, name, bytes for 1024 values in rows of 256, worst |x - dequant(quant(x))| for N(0,1) values]
  const cases: [number, string, number, number][] = [
    [GGML_TYPE.F16, "f16", 2048, 2e-3],
    [GGML_TYPE.BF16, "bf16", 2048, 2e-2],
    [GGML_TYPE.Q8_0, "q8_0", 1088, 3e-2],
    [GGML_TYPE.Q4_0, "q4_0", 576, 0.4],
    [12, "q4_K", 576, 0.3],
    [14, "q6_K", 840, 0.08],
  ];
  for (const [type, name, bytes, bound] of cases) {
    it(`${name}: sizes, and quantize -> dequantize stays within the format's error`, () => {
      expect(ggmlTypeName(type)).toBe(name);
      expect(ggmlTypeBytes(type, 1024, 256)).toBe(bytes);
      const q = quantize(type, x, 256);
      expect(q.length).toBe(bytes);
      const y = dequantize(type, q, 1024, 256);
      const err = maxErr(x, y);
      expect(err).toBeLessThan(bound);
      expect(err).toBeGreaterThan(0); // a real round trip, not a copy
    });
  }

  it("Q8_0 stores one f16 scale and 32 int8 per block: dequantized values are scale × integer", () => {
    const q = quantize(GGML_TYPE.Q8_0, x.subarray(0, 32));
    const y = dequantize(GGML_TYPE.Q8_0, q, 32);
    const d = new DataView(q.buffer).getUint16(0, true);
    const scale = (d & 0x3ff) / 1024 + 1; // normal f16: (1 + m/1024) · 2^(e-15)
    const value = (d & 0x8000 ? -1 : 1) * scale * 2 ** (((d >> 10) & 0x1f) - 15);
    for (let i = 0; i < 32; i++) expect(y[i]).toBeCloseTo(value * new Int8Array(q.buffer, 2, 32)[i], 6);
  });

  it("refuses rows that do not fill whole blocks, short buffers and types it cannot quantize, naming them", () => {
    expect(() => ggmlTypeBytes(12, 64, 32)).toThrow(/q4_K.*blocks of 256/);
    expect(() => dequantize(GGML_TYPE.Q8_0, new Uint8Array(10), 32)).toThrow(/need 34 bytes, got 10/);
    expect(() => quantize(GGML_TYPE.I32, x)).toThrow(/cannot quantize to ggml type 26/);
    // ids past the pinned library's tables are refused before ggml reads them (it does not bounds-check)
    for (const bad of [41, -1, 1.5]) {
      expect(() => dequantize(bad, new Uint8Array(64), 32)).toThrow(/not one the pinned ggml library knows/);
      expect(() => ggmlTypeName(bad)).toThrow(/not one the pinned ggml library knows/);
    }
  });
});
