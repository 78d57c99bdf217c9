import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore, quantize, saveCheckpoint, type Param } from "../../src/engine/index.ts";
import { PACKED_TYPE_ID } from "../../src/engine/quant.ts";
import type { PackedType } from "../../src/engine/tensor.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

// K = 256: one K-quant super-block per row
const K = 256, N = 24, V = 5;
const r = new Rng(1);
const wv = Float32Array.from({ length: N * K }, () => r.normal());
const tv = Float32Array.from({ length: V * K }, () => r.normal());
const xv = Float32Array.from({ length: 2 * 3 * K }, () => r.normal());
const R = Float32Array.from({ length: 2 * 3 * N }, () => r.normal());
const ids = Int32Array.from([4, 0, 2, 2]);

const relErr = (a: Float32Array, b: Float32Array) => {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

/** y = x·Wᵀ (x [2, 3, K], so batch dims go through), loss Σ y ⊙ R, and table rows at ids, in one grad graph. */
function forwardBackward(store: ParamStore, W: Param, T: Param, x: Param) {
  const g = compile(engine, {
    mode: "grad",
    params: store,
    build: (b) => {
      const y = b.linear(x, W);
      return { loss: b.sum(b.mul(y, b.constant(R, y.shape))), outputs: { y, rows: b.embedding(T, b.input("ids", [ids.length], "i32")) } };
    },
  });
  g.run({ ids });
  const out = { y: g.read("y"), rows: g.read("rows"), dx: g.grad(x) };
  g.dispose();
  return out;
}

describe("frozen parameters kept packed (quantized blocks, F16) as linear weights and embedding tables", () => {
  it.each(Object.keys(PACKED_TYPE_ID) as PackedType[])("%s: forward as llama.cpp multiplies it, gradient to x and rows as the dequantized weight's", (type) => {
    const packed = new ParamStore(engine);
    const wq = quantize(PACKED_TYPE_ID[type], wv, K);
    const W = packed.add("W", [N, K], { init: { kind: "packed", type, load: () => wq } });
    const T = packed.add("T", [V, K], { init: { kind: "packed", type, load: () => quantize(PACKED_TYPE_ID[type], tv, K) } });
    const x = packed.add("x", [2, 3, K], { init: { kind: "data", data: xv } });
    packed.initialize(new Rng(0));
    expect(W.dtype).toBe(type);
    expect(W.trainable).toBe(false);
    const plain = new ParamStore(engine);
    const Wf = plain.add("W", [N, K], { init: { kind: "data", data: packed.readDequantized(W) }, trainable: false });
    const Tf = plain.add("T", [V, K], { init: { kind: "data", data: packed.readDequantized(T) }, trainable: false });
    const xf = plain.add("x", [2, 3, K], { init: { kind: "data", data: xv } });
    plain.initialize(new Rng(0));
    const a = forwardBackward(packed, W, T, x);
    const b = forwardBackward(plain, Wf, Tf, xf);
    // ggml rounds the activations to the weight's dot-product type (Q8_0/Q8_K for the quantized types, F16 for F16)
    // before the forward dot products, as llama.cpp does; measured 6.2e-3..7.0e-3 (F16: 2.2e-4).
    expect(relErr(a.y, b.y)).toBeLessThan(type === "f16" ? 1e-3 : 1.5e-2);
    expect(relErr(a.y, b.y)).toBeGreaterThan(0); // the packed weight really was multiplied as stored
    // OUT_PROD dequantizes W's rows and multiplies in F32: the same gradient (measured: identical)
    expect(relErr(a.dx, b.dx)).toBeLessThan(1e-6);
    expect(Array.from(a.rows)).toEqual(Array.from(b.rows));
    packed.dispose();
    plain.dispose();
  });

  it("a product big enough for graph.ts's OUT_PROD -> MUL_MAT rewrite keeps its OUT_PROD for a packed W", () => {
    // dx = OUT_PROD(W, dyᵀ): 64 rows × 512 × 512 multiply-adds is over the rewrite's 8M threshold, and the rewrite
    // (mul_mat of transposed copies) is F32-only; a packed W must keep the OUT_PROD that dequantizes its rows.
    const [rows, n, k] = [64, 512, 512];
    const w = Float32Array.from({ length: n * k }, () => r.normal());
    const xs = Float32Array.from({ length: rows * k }, () => r.normal());
    const weights = Float32Array.from({ length: rows * n }, () => r.normal());
    const dx = (packed: boolean) => {
      const store = new ParamStore(engine);
      const wq = quantize(PACKED_TYPE_ID.q8_0, w, k);
      const probe = new ParamStore(engine);
      const pw = probe.add("W", [n, k], { init: { kind: "packed", type: "q8_0", load: () => wq } });
      probe.initialize(new Rng(0));
      const W = store.add("W", [n, k], packed ? { init: { kind: "packed", type: "q8_0", load: () => wq } } : { init: { kind: "data", data: probe.readDequantized(pw) }, trainable: false });
      probe.dispose();
      const x = store.add("x", [rows, k], { init: { kind: "data", data: xs } });
      store.initialize(new Rng(0));
      const g = compile(engine, { mode: "grad", params: store, build: (b) => ({ loss: b.sum(b.mul(b.linear(x, W), b.constant(weights, [rows, n]))) }) });
      g.run({});
      const out = g.grad(x);
      g.dispose();
      store.dispose();
      return out;
    };
    expect(relErr(dx(true), dx(false))).toBeLessThan(1e-5);
  });

  it("refuses to train, write or read raw a packed parameter, rows that are not whole blocks, and other ops on it", () => {
    const store = new ParamStore(engine);
    const load = () => quantize(PACKED_TYPE_ID.q8_0, wv, K);
    expect(() => store.add("t", [N, K], { init: { kind: "packed", type: "q8_0", load }, trainable: true })).toThrow(/"t" is stored as q8_0: only F32 parameters train/);
    expect(() => store.add("odd", [4, 48], { init: { kind: "packed", type: "q4_K", load } })).toThrow(/blocks of 256; rows of 48 do not fit/);
    expect(() => store.add("bf", [4, 32], { init: { kind: "packed", type: "bf16" as PackedType, load } })).toThrow(/"bf16" cannot be kept packed/);
    const W = store.add("W", [N, K], { init: { kind: "packed", type: "q8_0", load } });
    const short = store.add("short", [N, K], { init: { kind: "packed", type: "q8_0", load: () => new Uint8Array(10) } });
    expect(() => store.initialize(new Rng(0))).toThrow(/"short": 10 bytes of q8_0, shape \[24,256\] needs 6528/);
    store.dispose();
    const ok = new ParamStore(engine);
    const W2 = ok.add("W", [N, K], { init: { kind: "packed", type: "q8_0", load } });
    ok.initialize(new Rng(0));
    expect(() => ok.read(W2)).toThrow(/stored as q8_0; read its values with readDequantized/);
    expect(() => ok.write(W2, new Float32Array(N * K))).toThrow(/stored as q8_0 and frozen/);
    // a checkpoint holds F32 parameters: a store with packed ones is refused, not saved as something else
    expect(() => saveCheckpoint(join(tmpdir(), "reclm-packed-never-written.safetensors"), { store: ok })).toThrow(/"W" is stored as q8_0/);
    expect(() => compile(engine, { mode: "eval", params: ok, build: (b) => ({ outputs: { y: b.add(W2, b.input("x", [N, K])) } }) })).toThrow(/add: expects f32 tensors, got q8_0/);
    ok.dispose();
    void W;
    void short;
  });
});
