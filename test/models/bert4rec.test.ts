import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { BERT4Rec, type BERT4RecConfig } from "../../src/models/bert4rec.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { clozeBatch, expectLossFallsReproducibly, expectModelGradientsMatch, forwardShapes, instantiate, leftPad, randomizeParams, rowOf, trainLosses } from "./neural-harness.ts";

const engine = Engine.create({ threads: 1 }); // tiny graphs: a second thread only adds barrier waits
afterAll(() => engine.dispose());

const N = 7;
const MASK = N + 1;
const tiny = (over: Partial<BERT4RecConfig> = {}): BERT4RecConfig => ({ ...BERT4Rec.defaults, hidden: 8, heads: 2, maxLen: 5, seed: 3, ...over });
const histories = [Int32Array.of(3, 1, 4, 1, MASK), Int32Array.of(2, MASK), Int32Array.of(6, 7, MASK)];

/**
 * BERT4Rec's eval forward in plain f64 straight from docs/model-recipes.md §3, over the unpadded window (so padding keys
 * are simply absent): scores [t][N+2] at every position t. No dropout.
 */
function referenceScores(read: (name: string) => Float32Array, hist: Int32Array, cfg: { D: number; H: number; blocks: number; V: number }): number[][] {
  const { D, H, V } = cfg;
  const dh = D / H;
  const T = hist.length;
  const lin = (x: number[], name: string) => {
    const W = read(`${name}.weight`), b = read(`${name}.bias`);
    const inp = x.length;
    return Array.from(b, (bo, r) => x.reduce((s, v, k) => s + W[r * inp + k] * v, bo));
  };
  const ln = (x: number[], name: string) => {
    const w = read(`${name}.weight`), b = read(`${name}.bias`);
    const mu = x.reduce((s, v) => s + v, 0) / x.length;
    const vr = x.reduce((s, v) => s + (v - mu) ** 2, 0) / x.length;
    return x.map((v, j) => ((v - mu) / Math.sqrt(vr + 1e-6)) * w[j] + b[j]);
  };
  const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  const addv = (a: number[], b: number[]) => a.map((v, j) => v + b[j]);
  const E = read("token.weight"), P = read("position.weight");
  // embedding: LN(E[x] + P[pos]), positions 1..T from the first real item
  let x = Array.from(hist, (item, t) => ln(addv(rowOf(E, item, D), rowOf(P, t + 1, D)), "embedding.layer_norm"));
  for (let i = 0; i < cfg.blocks; i++) {
    const n = `blocks.${i}`;
    const q = x.map((r) => lin(r, `${n}.attn.q`)), k = x.map((r) => lin(r, `${n}.attn.k`)), v = x.map((r) => lin(r, `${n}.attn.v`));
    const merged = x.map(() => new Array<number>(D).fill(0));
    for (let hh = 0; hh < H; hh++) {
      const o = hh * dh;
      for (let t = 0; t < T; t++) {
        // bidirectional: every real key, no causal mask
        const logits = k.map((kr) => kr.slice(o, o + dh).reduce((s, kv, j) => s + kv * q[t][o + j], 0) / Math.sqrt(dh));
        const mx = Math.max(...logits);
        const w = logits.map((l) => Math.exp(l - mx));
        const z = w.reduce((s, e) => s + e, 0);
        for (let j = 0; j < dh; j++) merged[t][o + j] = v.reduce((s, vr, u) => s + (w[u] / z) * vr[o + j], 0);
      }
    }
    const attn = merged.map((r) => lin(r, `${n}.attn.out`));
    x = x.map((r, t) => ln(addv(r, attn[t]), `${n}.input.layer_norm`)); // post-LN
    const ffn = x.map((r) => lin(lin(r, `${n}.ffn.w_1`).map(gelu), `${n}.ffn.w_2`));
    x = x.map((r, t) => ln(addv(r, ffn[t]), `${n}.output.layer_norm`)); // post-LN
  }
  const bias = read("head.bias");
  return x.map((r) => {
    const t = lin(r, "head.linear").map(gelu);
    return Array.from({ length: V }, (_, c) => rowOf(E, c, D).reduce((s, e, j) => s + e * t[j], bias[c]));
  });
}

describe("bert4rec", () => {
  it("every preset passes the shared config validation", () => {
    for (const name of Object.keys(BERT4Rec.presets)) expect(resolveConfig(BERT4Rec, { preset: name }).preset).toBe(name);
    expect(Object.keys(BERT4Rec.presets)).toContain("ml-latest-small");
  });

  it("declares an N+2 vocabulary, 1+maxLen positions, two blocks and a biased tied head", () => {
    const m = instantiate(engine, BERT4Rec, tiny(), N);
    const shapes = Object.fromEntries(m.store.list().map((p) => [p.name, [...p.shape]]));
    expect(shapes["token.weight"]).toEqual([9, 8]);
    expect(shapes["position.weight"]).toEqual([6, 8]);
    expect(shapes["head.bias"]).toEqual([9]);
    expect(shapes["blocks.1.ffn.w_1.weight"]).toEqual([32, 8]);
    expect(shapes["blocks.1.attn.out.weight"]).toEqual([8, 8]);
    expect(m.store.list().length).toBe(2 + 2 + 2 * 16 + 2 + 1);
    expect(BERT4Rec.objective(m.config)).toEqual({ kind: "cloze", maskProb: 0.2, maxPredictions: 40 });
    expect(BERT4Rec.vocabSize(N, m.config)).toBe(9);
    // padding row 0 starts at zero, other rows N(0, 1); block weights truncated-normal; layer norms ones
    const tok = m.store.read("token.weight");
    expect(Array.from(tok.subarray(0, 8))).toEqual(new Array(8).fill(0));
    expect(Math.max(...tok.subarray(8).map(Math.abs))).toBeGreaterThan(0.5);
    expect(Math.max(...m.store.read("blocks.0.attn.q.bias").map(Math.abs))).toBeLessThanOrEqual(0.04 + 1e-7);
    expect(Array.from(m.store.read("blocks.0.input.layer_norm.weight"))).toEqual(new Array(8).fill(1));
    for (const p of m.store.list()) expect(p.decay, p.name).toBe(!p.name.includes("bias") && !p.name.includes("layer_norm"));
    m.store.dispose();
  });

  it("rejects a hidden size that heads do not divide", () => {
    expect(() => instantiate(engine, BERT4Rec, tiny({ heads: 3 }), N)).toThrow(ReclmError);
  });

  it("embeddingInit: N(0, 1) embeddings by default (the recipe), truncated-normal on request, anything else refused", () => {
    const spread = (c: BERT4RecConfig) => {
      const m = instantiate(engine, BERT4Rec, c, N);
      try {
        return ["token.weight", "position.weight"].map((name) => {
          const rows = m.store.read(name).subarray(c.hidden); // row 0 of the token table is the zeroed padding row
          return Math.max(...Array.from(rows, Math.abs));
        });
      } finally {
        m.store.dispose();
      }
    };
    for (const v of spread(tiny({ hidden: 16, maxLen: 20 }))) expect(v).toBeGreaterThan(1.5);
    for (const v of spread(tiny({ hidden: 16, maxLen: 20, embeddingInit: "truncated-normal" }))) expect(v).toBeLessThanOrEqual(0.04);
    expect(() => resolveConfig(BERT4Rec, { preset: "none", config: { embeddingInit: "xavier" }, source: "--set" })).toThrow(/embeddingInit/);
  });

  it("is bidirectional and ignores left padding: real positions do not change with the window length", () => {
    const short = instantiate(engine, BERT4Rec, tiny({ maxLen: 5 }), N);
    const long = instantiate(engine, BERT4Rec, tiny({ maxLen: 8 }), N);
    randomizeParams(long.store, 0.5, 4);
    for (const p of long.store.list()) {
      const v = long.store.read(p);
      short.store.write(p.name, p.name === "position.weight" ? v.subarray(0, 6 * 8) : v);
    }
    const a = forwardShapes(engine, short, leftPad(histories, 5), 3);
    const b = forwardShapes(engine, long, leftPad(histories, 8), 3);
    expect(a.hShape).toEqual([3, 5, 8]);
    expect(a.sShape).toEqual([15, 9]);
    histories.forEach((h, u) => {
      for (let j = 0; j < h.length; j++) {
        const ra = a.h.subarray((u * 5 + 5 - h.length + j) * 8, (u * 5 + 6 - h.length + j) * 8);
        const rb = b.h.subarray((u * 8 + 8 - h.length + j) * 8, (u * 8 + 9 - h.length + j) * 8);
        ra.forEach((v, d) => expect(v).toBeCloseTo(rb[d], 4));
      }
    });
    // Bidirectional: the first item's state changes when a LATER item changes.
    const changed = [Int32Array.of(3, 1, 4, 2, MASK), histories[1], histories[2]];
    const c = forwardShapes(engine, short, leftPad(changed, 5), 3);
    expect(Math.max(...c.h.subarray(0, 8).map((v, d) => Math.abs(v - a.h[d])))).toBeGreaterThan(1e-3);
    short.store.dispose();
    long.store.dispose();
  });

  it("scores at every real position equal the §3 forward in f64 (post-LN blocks, tanh GELU, tied biased head)", () => {
    const m = instantiate(engine, BERT4Rec, tiny({ blocks: 2 }), N);
    randomizeParams(m.store, 0.5, 11);
    const hs = [...histories, Int32Array.of(5, 3, 1, 4, 1, 5, MASK)]; // the last one is cut to its last 5 items
    const L = 5, V = N + 2;
    const out = forwardShapes(engine, m, leftPad(hs, L), hs.length);
    expect(out.sShape).toEqual([hs.length * L, V]);
    let compared = 0;
    hs.forEach((h, u) => {
      const win = h.subarray(Math.max(0, h.length - L));
      const ref = referenceScores((n) => m.store.read(n), win, { D: 8, H: 2, blocks: 2, V });
      ref.forEach((row, t) => {
        const r = u * L + L - win.length + t;
        row.forEach((v, c) => expect(out.s[r * V + c], `user ${u} position ${t} column ${c}`).toBeCloseTo(v, 4));
        compared++;
      });
    });
    expect(compared).toBe(5 + 2 + 3 + 5);
    m.store.dispose();
  });

  it("gradients of the whole model (dropout on) match finite differences", () => {
    expectModelGradientsMatch(engine, BERT4Rec, tiny({ dropout: 0.2, attnDropout: 0.2 }), N, histories, 5, { eps: 3e-3 });
  });

  it("cloze loss falls on the embedded dataset and a seed reproduces the run exactly", async () => {
    const ds = await loadDataset("embedded");
    const run = (seed: number, steps: number) => {
      const cfg = { ...BERT4Rec.defaults, hidden: 16, maxLen: 20, maskProb: 0.3, seed };
      return trainLosses(engine, BERT4Rec, cfg, ds.catalog.size, {
        B: 32, lr: 2e-2, steps, batch: (rng) => clozeBatch(ds, 32, 20, BERT4Rec.objective(cfg), rng),
      });
    };
    expectLossFallsReproducibly(run, { steps: 100, window: 15, drop: 0.25 });
  });
});
