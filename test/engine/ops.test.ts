import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore, compile, type Builder, type Param, type Tensor } from "../../src/engine/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { Rng } from "../../src/rng.ts";
import { gradCheck, type GradCheckCase } from "./gradcheck.ts";

// One thread: tiny graphs with 2 spinning threads crawl when the 2 cores are shared with other work.
const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

type P = Record<string, Param>;
const i32 = (...v: number[]) => new Int32Array(v);

// Every op's backward vs central finite differences (loss = Σ op(x) ⊙ R).
const cases: Record<string, GradCheckCase> = {
  "add (broadcast)": { params: { a: [2, 3, 4], b: [3, 1] }, op: (b, p: P) => b.add(p.a, p.b) },
  "sub (broadcast)": { params: { a: [3, 4], b: [4] }, op: (b, p: P) => b.sub(p.a, p.b) },
  "mul (broadcast)": { params: { a: [3, 4], b: [1, 4] }, op: (b, p: P) => b.mul(p.a, p.b) },
  "div (broadcast)": { params: { a: [3, 4], b: [4] }, positive: true, op: (b, p: P) => b.div(p.a, p.b) },
  scale: { params: { x: [5] }, op: (b, p: P) => b.scale(p.x, -2.5) },
  sqr: { params: { x: [6] }, op: (b, p: P) => b.sqr(p.x) },
  sqrt: { params: { x: [6] }, positive: true, op: (b, p: P) => b.sqrt(p.x) },
  exp: { params: { x: [6] }, op: (b, p: P) => b.exp(p.x) },
  log: { params: { x: [6] }, positive: true, op: (b, p: P) => b.log(p.x) },
  sin: { params: { x: [6] }, op: (b, p: P) => b.sin(p.x) },
  cos: { params: { x: [6] }, op: (b, p: P) => b.cos(p.x) },
  relu: { params: { x: [8] }, op: (b, p: P) => b.relu(p.x) },
  silu: { params: { x: [8] }, op: (b, p: P) => b.silu(p.x) },
  sigmoid: { params: { x: [8] }, scale: 3, op: (b, p: P) => b.sigmoid(p.x) },
  tanh: { params: { x: [8] }, scale: 2, op: (b, p: P) => b.tanh(p.x) },
  gelu: { params: { x: [8] }, scale: 2, op: (b, p: P) => b.gelu(p.x) },
  swiglu: { params: { g: [2, 4], u: [2, 4] }, op: (b, p: P) => b.swiglu(p.g, p.u) },
  "dropout (fixed mask)": { params: { x: [4, 6] }, op: (b, p: P) => b.dropout(p.x, 0.5) },
  sumRows: { params: { x: [3, 5] }, op: (b, p: P) => b.sumRows(p.x) },
  meanRows: { params: { x: [3, 5] }, op: (b, p: P) => b.meanRows(p.x) },
  mean: { params: { x: [3, 5] }, op: (b, p: P) => b.mean(p.x) },
  layerNorm: { params: { x: [3, 6], g: [6], c: [6] }, op: (b, p: P) => b.layerNorm(p.x, p.g, p.c) },
  rmsNorm: { params: { x: [3, 6], w: [6] }, op: (b, p: P) => b.rmsNorm(p.x, p.w) },
  "matmulNT (batch broadcast)": { params: { a: [2, 3, 4], w: [5, 4] }, op: (b, p: P) => b.matmulNT(p.a, p.w) },
  matmul: { params: { a: [2, 3, 4], c: [2, 4, 5] }, op: (b, p: P) => b.matmul(p.a, p.c) },
  linear: { params: { x: [2, 3, 4], w: [5, 4], c: [5] }, op: (b, p: P) => b.linear(p.x, p.w, p.c) },
  embedding: { params: { t: [6, 3] }, inputs: { ids: i32(1, 3, 3, 0, 5, 1) }, op: (b, p: P) => b.embedding(p.t, b.input("ids", [2, 3], "i32")) },
  gatherRows: { params: { x: [5, 3] }, inputs: { i: i32(4, 0, 4) }, op: (b, p: P) => b.gatherRows(p.x, b.input("i", [3], "i32")) },
  "permute + cont": { params: { x: [2, 3, 4] }, op: (b, p: P) => b.cont(b.permute(p.x, [2, 0, 1])) },
  "transpose + reshape": { params: { x: [3, 4] }, op: (b, p: P) => b.reshape(b.transpose(p.x), [2, 6]) },
  slice: { params: { x: [3, 5, 2] }, op: (b, p: P) => b.slice(p.x, 1, 1, 3) },
  concat: { params: { a: [2, 3], c: [2, 2] }, op: (b, p: P) => b.concat([p.a, p.c], 1) },
  "concat dim 0": { params: { a: [2, 3], c: [1, 3] }, op: (b, p: P) => b.concat([p.a, p.c], 0) },
  addInto: { params: { x: [2, 4, 3], c: [2, 2, 3] }, op: (b, p: P) => b.addInto(p.x, p.c, 1, 1) },
  swapHalves: { params: { x: [2, 3, 4] }, op: (b, p: P) => b.swapHalves(p.x) },
  // A one-row slice of a matrix fed to SCALE (which asserts ggml_is_padded_1d on its input and its gradient).
  "scale of a row slice": { params: { x: [4, 3] }, op: (b, p: P) => b.neg(b.slice(p.x, 0, 3, 1)) },
  "repeat (a block's carry tiled, as the LRU scan does)": { params: { x: [3, 1, 4], c: [2, 4] }, op: (b, p: P) => b.mul(b.repeat(p.x, [3, 2, 4]), p.c) },
  "softmax (scale, causal, additive mask)": {
    params: { x: [2, 2, 4, 4] },
    op: (b, p: P) => b.softmax(p.x, { scale: 0.5, causal: true, mask: b.constant(maskData(), [2, 1, 4, 4]) }),
  },
  "softmax (causal, offset: a block of queries)": { params: { x: [2, 3, 5] }, op: (b, p: P) => b.softmax(p.x, { causal: true, causalOffset: 2 }) },
  maxPool1d: { params: { x: [2, 3, 6] }, eps: 1e-3, op: (b, p: P) => b.maxPool1d(p.x, 3, 2) },
  "maxPool1d over all time": { params: { x: [2, 4, 5] }, eps: 1e-3, op: (b, p: P) => b.maxPool1d(p.x, 5) },
  conv1d: { params: { x: [2, 3, 5], w: [4, 3, 2], c: [4] }, op: (b, p: P) => b.conv1d(p.x, p.w, p.c, { padding: 1, dilation: 2 }) },
  rope: { params: { x: [1, 3, 2, 4] }, inputs: { pos: i32(0, 1, 2) }, op: (b, p: P) => b.rope(p.x, b.input("pos", [3], "i32")) },
  "rope (normal pairs, linear scaling, frequency factors)": {
    params: { x: [2, 3, 2, 4] },
    inputs: { pos: i32(0, 3, 7), ff: Float32Array.from([1, 4]) },
    op: (b, p: P) => b.rope(p.x, b.input("pos", [3], "i32"), { mode: "normal", freqScale: 0.5, freqFactors: b.input("ff", [2]) }),
  },
  "crossEntropy (ignored rows)": {
    loss: true,
    params: { x: [5, 6] },
    scale: 2,
    inputs: { y: i32(1, 0, 3, 5, 0) },
    op: (b, p: P) => b.crossEntropy(p.x, b.input("y", [5], "i32"), { ignoreIndex: 0 }),
  },
};

function maskData(): Float32Array {
  const m = new Float32Array(2 * 16);
  m[3] = -1e9; // batch 0: key 3 hidden for query 0
  m[16 + 4 * 2 + 0] = -1e9; // batch 1: key 0 hidden for query 2
  return m;
}

describe("gradients vs central finite differences", () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const r = gradCheck(engine, c);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.maxRelErr, r.worst).toBeLessThan(3e-3);
    });
  }
});

/** Runs a forward graph over params filled with the given data and returns the output. */
function forward(data: Record<string, { shape: number[]; values: number[] | Float32Array }>, op: (b: Builder, p: P) => Tensor, inputs: Record<string, Int32Array | Float32Array> = {}) {
  const store = new ParamStore(engine);
  const params: P = {};
  for (const [k, v] of Object.entries(data)) params[k] = store.add(k, v.shape, { init: { kind: "data", data: Float32Array.from(v.values) } });
  store.initialize(new Rng(0));
  let shape: readonly number[] = [];
  const g = compile(engine, { mode: "eval", params: store, build: (b) => { const out = op(b, params); shape = out.shape; return { outputs: { out } }; } });
  g.run(inputs);
  const out = g.read("out");
  g.dispose();
  store.dispose();
  return { out, shape };
}

const erf = (x: number) => {
  // Abramowitz-Stegun 7.1.26 (|err| < 1.5e-7)
  const s = Math.sign(x), a = Math.abs(x), t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
};

describe("forward values", () => {
  const xs = Array.from({ length: 41 }, (_, i) => -10 + i * 0.5);
  const X = { x: { shape: [xs.length], values: xs } };

  it("sigmoid, tanh match Math, including large |x|", () => {
    const s = forward(X, (b, p) => b.sigmoid(p.x)).out;
    const t = forward(X, (b, p) => b.tanh(p.x)).out;
    xs.forEach((x, i) => {
      expect(s[i]).toBeCloseTo(1 / (1 + Math.exp(-x)), 6);
      expect(t[i]).toBeCloseTo(Math.tanh(x), 5);
    });
  });

  it("gelu (tanh approximation) stays within 1e-3 of exact erf GELU", () => {
    const g = forward(X, (b, p) => b.gelu(p.x)).out;
    let maxDiff = 0;
    xs.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(g[i] - 0.5 * x * (1 + erf(x / Math.SQRT2))))));
    expect(maxDiff).toBeLessThan(1e-3);
    expect(maxDiff).toBeGreaterThan(0); // it IS an approximation; README states the measured gap
  });

  it("layerNorm matches PyTorch's (biased variance)", () => {
    const v = [1, 2, 4, 8, -3, 0.5];
    const { out } = forward({ x: { shape: [1, 6], values: v }, g: { shape: [6], values: [1, 2, 1, 1, 1, 1] }, c: { shape: [6], values: [0, 0, 1, 0, 0, 0] } }, (b, p) => b.layerNorm(p.x, p.g, p.c));
    const m = v.reduce((a, c) => a + c) / 6;
    const va = v.reduce((a, c) => a + (c - m) ** 2, 0) / 6;
    const ref = v.map((c) => (c - m) / Math.sqrt(va + 1e-5)).map((c, i) => c * [1, 2, 1, 1, 1, 1][i] + [0, 0, 1, 0, 0, 0][i]);
    ref.forEach((r, i) => expect(out[i]).toBeCloseTo(r, 4));
  });

  it("rope rotates pair j by position·freqScale·base^(-2j/n) / freqFactors[j] (llama's adjacent pairs, qwen2's halves)", () => {
    const x = Array.from({ length: 2 * 2 * 6 }, (_, i) => Math.sin(i + 1));
    const pos = [3, 11];
    const ff = [1, 2.5, 8];
    for (const mode of ["normal", "neox"] as const) {
      const { out } = forward(
        { x: { shape: [1, 2, 2, 6], values: x } },
        (b, p) => b.rope(p.x, b.input("pos", [2], "i32"), { mode, base: 500, freqScale: 0.25, freqFactors: b.input("ff", [3]) }),
        { pos: Int32Array.from(pos), ff: Float32Array.from(ff) },
      );
      for (let t = 0; t < 2; t++) {
        for (let h = 0; h < 2; h++) {
          const o = (t * 2 + h) * 6;
          for (let j = 0; j < 3; j++) {
            const theta = (pos[t] * 0.25 * 500 ** (-2 * j / 6)) / ff[j];
            const [i0, i1] = mode === "normal" ? [o + 2 * j, o + 2 * j + 1] : [o + j, o + j + 3];
            expect(out[i0]).toBeCloseTo(x[i0] * Math.cos(theta) - x[i1] * Math.sin(theta), 5);
            expect(out[i1]).toBeCloseTo(x[i0] * Math.sin(theta) + x[i1] * Math.cos(theta), 5);
          }
        }
      }
    }
    // ggml has no gradient for the factors: a trainable tensor there is refused before ggml would abort
    expect(() => forward({ x: { shape: [1, 2, 2, 6], values: x }, f: { shape: [3], values: ff } }, (b, p) => b.rope(p.x, b.input("pos", [2], "i32"), { freqFactors: p.f }))).toThrow(/frozen parameter or a graph input/);
  });

  it("softmax with causal mask zeroes the future", () => {
    const { out } = forward({ x: { shape: [3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9] } }, (b, p) => b.softmax(p.x, { causal: true }));
    expect([...out].map((v) => +v.toFixed(4))).toEqual([1, 0, 0, +(1 / (1 + Math.E)).toFixed(4), +(Math.E / (1 + Math.E)).toFixed(4), 0, expect.any(Number), expect.any(Number), expect.any(Number)]);
  });

  it("softmax's causalOffset shifts the diagonal: query row i sees keys up to i + offset", () => {
    const x = { shape: [2, 4], values: [0, 0, 0, 0, 0, 0, 0, 0] };
    expect([...forward({ x }, (b, p) => b.softmax(p.x, { causal: true, causalOffset: 2 })).out].map((v) => +v.toFixed(4))).toEqual([0.3333, 0.3333, 0.3333, 0, 0.25, 0.25, 0.25, 0.25]);
    expect(() => forward({ x }, (b, p) => b.softmax(p.x, { causalOffset: 1 }))).toThrow(/causalOffset needs causal: true/);
    expect(() => forward({ x }, (b, p) => b.softmax(p.x, { causal: true, causalOffset: -1 }))).toThrow(/causalOffset must be a non-negative integer/);
  });

  it("matmul, permute, slice, concat, addInto follow PyTorch semantics", () => {
    const a = { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] };
    expect([...forward({ a, c: { shape: [3, 2], values: [1, 0, 0, 1, 1, 1] } }, (b, p) => b.matmul(p.a, p.c)).out]).toEqual([4, 5, 10, 11]);
    const pt = forward({ a }, (b, p) => b.permute(p.a, [1, 0]));
    expect(pt.shape).toEqual([3, 2]);
    expect([...pt.out]).toEqual([1, 4, 2, 5, 3, 6]);
    expect([...forward({ a }, (b, p) => b.slice(p.a, 1, 1, 2)).out]).toEqual([2, 3, 5, 6]);
    expect([...forward({ a, c: { shape: [2, 1], values: [7, 8] } }, (b, p) => b.concat([p.a, p.c], 1)).out]).toEqual([1, 2, 3, 7, 4, 5, 6, 8]);
    expect([...forward({ a, c: { shape: [2, 2], values: [10, 20, 30, 40] } }, (b, p) => b.addInto(p.a, p.c, 1, 1)).out]).toEqual([1, 12, 23, 4, 35, 46]);
    expect(() => forward({ a, c: { shape: [2, 2], values: [1, 1, 1, 1] } }, (b, p) => b.addInto(p.a, p.c, 1, 2))).toThrow(/\[2, 4\) out of range for dim 1/);
    expect([...forward({ c: { shape: [2, 1], values: [1, 2] } }, (b, p) => b.repeat(p.c, [2, 2, 3])).out]).toEqual([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
    expect([...forward({ a: { shape: [2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8] } }, (b, p) => b.swapHalves(p.a)).out]).toEqual([3, 4, 1, 2, 7, 8, 5, 6]);
    expect(() => forward({ a }, (b, p) => b.swapHalves(p.a))).toThrow(/the last dim of \[2, 3\] must be even/);
    expect(() => forward({ c: { shape: [2, 2], values: [1, 2, 3, 4] } }, (b, p) => b.repeat(p.c, [3, 3]))).toThrow(/cannot tile \[2, 2\] to \[3, 3\]/);
  });

  it("conv1d matches a direct convolution; maxPool1d takes the max", () => {
    const x = [1, 2, 3, 4, 5, 0, 1, 0, 1, 0]; // [1, 2, 5]
    const w = [1, 0, -1, 2, 1, 0]; // [1, 2, 3]
    const { out, shape } = forward({ x: { shape: [1, 2, 5], values: x }, w: { shape: [1, 2, 3], values: w } }, (b, p) => b.conv1d(p.x, p.w));
    expect(shape).toEqual([1, 1, 3]);
    const ref = [0, 1, 2].map((t) => [0, 1].reduce((s, c) => s + [0, 1, 2].reduce((q, k) => q + x[c * 5 + t + k] * w[c * 3 + k], 0), 0));
    expect([...out]).toEqual(ref);
    expect([...forward({ x: { shape: [2, 4], values: [1, 5, 2, 0, -1, -3, -2, -7] } }, (b, p) => b.maxPool1d(p.x, 4)).out]).toEqual([5, -1]);
  });

  it("crossEntropy equals the mean -log softmax over non-ignored rows", () => {
    const v = [0.5, 1, -1, 2, 0, 0, 3, 1, -2];
    const { out } = forward({ x: { shape: [3, 3], values: v } }, (b, p) => b.crossEntropy(p.x, b.input("y", [3], "i32"), { ignoreIndex: -100 }), { y: i32(2, -100, 0) });
    const lse = (r: number[]) => Math.log(r.reduce((s, c) => s + Math.exp(c), 0));
    const ref = (lse(v.slice(0, 3)) - v[2] + lse(v.slice(6, 9)) - v[6]) / 2;
    expect(out[0]).toBeCloseTo(ref, 5);
  });
});

describe("shape checks happen in TypeScript, before ggml", () => {
  const bad: Record<string, (b: Builder, p: P) => Tensor> = {
    "add without broadcast": (b, p) => b.add(p.a, p.c),
    "matmulNT inner dims": (b, p) => b.matmulNT(p.a, p.c),
    "linear in-features": (b, p) => b.linear(p.a, p.c),
    "reshape numel": (b, p) => b.reshape(p.a, [5, 5]),
    "slice out of range": (b, p) => b.slice(p.a, 0, 2, 2),
    "embedding with f32 ids": (b, p) => b.embedding(p.a, p.a),
    "rank 5": (b) => b.input("z", [1, 1, 1, 1, 1]),
  };
  for (const [name, op] of Object.entries(bad)) {
    it(name, () => {
      expect(() => forward({ a: { shape: [3, 4], values: new Float32Array(12) }, c: { shape: [3, 5], values: new Float32Array(15) } }, op)).toThrowError(
        expect.objectContaining({ code: "RECLM_ERR_SHAPE" }) as unknown as ReclmError,
      );
    });
  }

  it("out-of-range target ids are rejected at run", () => {
    expect(() => forward({ x: { shape: [2, 3], values: new Float32Array(6) } }, (b, p) => b.crossEntropy(p.x, b.input("y", [2], "i32")), { y: i32(0, 3) })).toThrow(/outside \[0, 3\)/);
  });
});
