import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore, type Builder, type Param } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

// The engine replaces ggml's OUT_PROD (MUL_MAT's backward) by an equivalent MUL_MAT on transposed operands
// (src/engine/graph.ts outProductsAsMatmuls). These tests pin down that it happens and changes no number.
const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

// Big enough to be rewritten (>= 8M multiply-adds per product, transposes <= 4M elements, >= 100 multiply-adds per
// copied element); `small` stays OUT_PROD.
const BIG = { x: [4, 128, 256], w: [256, 256], q: [2, 4, 256, 256], k: [2, 4, 256, 256] };
const SMALL = { x: [2, 5, 8], w: [6, 8], q: [2, 3, 5, 4], k: [2, 3, 7, 4] };
// Attention with a head size of 64: dK copies q and the [Lq, Lk] gradient for 46 multiply-adds per element and stays
// OUT_PROD; dQ copies only k (128 per element) and is rewritten. The linear part is SMALL's (2 OUT_PRODs).
const HEADS = { ...SMALL, q: [2, 4, 128, 64], k: [2, 4, 160, 64] };

function gradients(native: boolean, size = BIG, minMacsPerCopy?: number): { ops: string[]; grads: Float32Array[]; loss: number } {
  const before = process.env.RECLM_ENGINE_OUT_PROD;
  if (native) process.env.RECLM_ENGINE_OUT_PROD = "native";
  else delete process.env.RECLM_ENGINE_OUT_PROD;
  try {
    const store = new ParamStore(engine);
    const p: Record<string, Param> = {
      x: store.add("x", size.x, { init: { kind: "normal", std: 1 } }),
      w: store.add("w", size.w, { init: { kind: "normal", std: 0.1 } }),
      q: store.add("q", size.q, { init: { kind: "normal", std: 1 } }),
      k: store.add("k", size.k, { init: { kind: "normal", std: 0.2 } }),
    };
    store.initialize(new Rng(7));
    const r = new Rng(9);
    const linShape = [size.x[0], size.x[1], size.w[0]];
    const attShape = [size.q[0], size.q[1], size.q[2], size.k[2]];
    const R1 = Float32Array.from({ length: linShape.reduce((a, b) => a * b, 1) }, () => r.normal());
    const R2 = Float32Array.from({ length: attShape.reduce((a, b) => a * b, 1) }, () => r.normal());
    const graph = compile(engine, {
      mode: "grad",
      params: store,
      outProducts: { minMacsPerCopy },
      build: (b: Builder) => {
        const lin = b.linear(p.x, p.w); // 3D activations × shared weight: broadcast of src0
        const att = b.matmulNT(p.q, p.k); // batched 4D product, both operands trainable
        const loss = b.add(b.sum(b.mul(lin, b.constant(R1, linShape))), b.sum(b.mul(att, b.constant(R2, attShape))));
        return { loss };
      },
    });
    const { result, nodes } = graph.profile({});
    const out = { ops: nodes.map((n) => n.op), grads: Object.values(p).map((q) => graph.grad(q)), loss: result.loss };
    graph.dispose();
    store.dispose();
    return out;
  } finally {
    if (before === undefined) delete process.env.RECLM_ENGINE_OUT_PROD;
    else process.env.RECLM_ENGINE_OUT_PROD = before;
  }
}

/** a equals b (ggml's OUT_PROD) to 1e-4 of b's largest magnitude, which must be a real gradient (> 0.1). */
function expectSameGradient(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  let maxErr = 0;
  let maxAbs = 0;
  for (let j = 0; j < a.length; j++) {
    maxErr = Math.max(maxErr, Math.abs(a[j] - b[j]));
    maxAbs = Math.max(maxAbs, Math.abs(b[j]));
  }
  expect(maxAbs).toBeGreaterThan(0.1);
  expect(maxErr).toBeLessThan(1e-4 * maxAbs);
}

describe("OUT_PROD → MUL_MAT rewrite of the backward graph", () => {
  it("leaves no OUT_PROD node, and RECLM_ENGINE_OUT_PROD=native keeps them", () => {
    expect(gradients(false).ops).not.toContain("OUT_PROD");
    expect(gradients(true).ops).toContain("OUT_PROD");
    expect(gradients(false, SMALL).ops.filter((o) => o === "OUT_PROD")).toHaveLength(4); // small products keep it
    expect(gradients(false, HEADS).ops.filter((o) => o === "OUT_PROD")).toHaveLength(3);
  });

  it("rewrites attention's dK too when a graph asks for fewer multiply-adds per copied element (a decoder's setting)", () => {
    const fast = gradients(false, HEADS, 40);
    expect(fast.ops.filter((o) => o === "OUT_PROD")).toHaveLength(2); // only SMALL's linear part keeps it
    const native = gradients(true, HEADS);
    expect(fast.loss).toBe(native.loss);
    const k = 3; // the keys' gradient, the product rewritten here and not by default
    expectSameGradient(fast.grads[k], native.grads[k]);
  });

  it("gives the same gradients as ggml's OUT_PROD (broadcast weight, batched 4D products)", () => {
    const fast = gradients(false);
    const native = gradients(true);
    expect(fast.loss).toBe(native.loss);
    for (let i = 0; i < native.grads.length; i++) expectSameGradient(fast.grads[i], native.grads[i]);
  });
});
