import { afterAll, describe, expect, it } from "vitest";
import { AdamW, compile, Engine, ParamStore, type Builder, type Param } from "../../src/engine/index.ts";
import { loadDataset } from "../../src/data/index.ts";
import { chunkedScanConstants, LRURec, lruScan, lruScanChunked, nextPowerOfTwo, ringInit, scanConstants, type LRURecConfig } from "../../src/models/lrurec.ts";
import type { ModelContext, SequenceInputs } from "../../src/models/neural/contract.ts";
import { Rng } from "../../src/rng.ts";
import { gradCheck } from "../engine/gradcheck.ts";

// One thread: tiny graphs are dominated by per-node thread barriers, which on a busy 2-core machine cost ~100x.
const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

type P = Record<string, Param>;

/** Left-padded ids/mask/positions for a batch of histories, window L (as the trainer feeds `encode`). */
function windowInputs(seqs: readonly (readonly number[])[], L: number): { ids: Int32Array; mask: Float32Array; positions: Int32Array } {
  const B = seqs.length;
  const ids = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  const positions = new Int32Array(B * L);
  seqs.forEach((s, r) => {
    const tail = s.slice(-L);
    const off = L - tail.length;
    tail.forEach((id, j) => {
      ids[r * L + off + j] = id;
      mask[r * L + off + j] = id > 0 ? 1 : 0;
      positions[r * L + off + j] = j + 1;
    });
  });
  return { ids, mask, positions };
}

function sequenceInputs(b: Builder, B: number, L: number): SequenceInputs {
  return { ids: b.input("ids", [B, L], "i32"), mask: b.input("mask", [B, L]), positions: b.input("positions", [B, L], "i32") };
}

const tiny = (over: Partial<LRURecConfig> = {}): LRURecConfig => ({ ...LRURec.defaults, hidden: 4, maxLen: 6, dropout: 0, lruDropout: 0, ...over });

describe("LRURec parallel scan", () => {
  it.each([
    { Lp: 16, realLengths: [16, 9, 1] },
    { Lp: 2, realLengths: [2, 1, 0] },
    { Lp: 8, realLengths: [8, 5, 4] },
    // the ML-1M window (chunks of 16): lengths across chunk boundaries, an empty row, one item
    { Lp: 256, realLengths: [256, 200, 17, 16, 1, 0] },
  ])("equals the sequential recurrence h_t = λ h_{t-1} + u_t started at the first real item (Lp $Lp)", ({ Lp, realLengths }) => {
    const B = realLengths.length, S = 3, C = 2 * S;
    const rng = new Rng(5);
    const ring = ringInit(S, 0.8, 0.99, rng);
    const nu = Float32Array.from({ length: S }, (_, s) => Math.exp(ring[s]));
    const theta = Float32Array.from({ length: S }, (_, s) => Math.exp(ring[S + s]));
    const u = Float32Array.from({ length: B * Lp * C }, () => rng.normal());
    const mask = new Float32Array(B * Lp);
    realLengths.forEach((n, r) => mask.fill(1, r * Lp + Lp - n, (r + 1) * Lp));

    const store = new ParamStore(engine);
    const dummy = store.add("unused", [1], { init: { kind: "zeros" } });
    store.initialize(new Rng(0));
    const g = compile(engine, {
      mode: "eval",
      params: store,
      build: (b) => {
        void dummy;
        const h = lruScan(b, b.input("u", [B, Lp, C]), b.input("mask", [B, Lp]), b.input("nu", [1, S]), b.input("theta", [1, S]), scanConstants(b, Lp, S));
        return { outputs: { h } };
      },
    });
    g.run({ u, mask, nu, theta });
    const got = g.read("h");
    g.dispose();
    store.dispose();

    let maxErr = 0;
    for (let r = 0; r < B; r++) {
      for (let s = 0; s < S; s++) {
        const lr = Math.exp(-nu[s]) * Math.cos(theta[s]);
        const li = Math.exp(-nu[s]) * Math.sin(theta[s]);
        let hr = 0, hi = 0;
        for (let t = 0; t < Lp; t++) {
          const base = (r * Lp + t) * C;
          const ur = u[base + s], ui = u[base + S + s];
          if (mask[r * Lp + t] === 0) {
            // padding positions never receive a carry (their state is their own input); the first real item starts from 0
            hr = 0;
            hi = 0;
            maxErr = Math.max(maxErr, Math.abs(got[base + s] - ur), Math.abs(got[base + S + s] - ui));
            continue;
          }
          const nr = lr * hr - li * hi + ur;
          const ni = lr * hi + li * hr + ui;
          hr = nr;
          hi = ni;
          maxErr = Math.max(maxErr, Math.abs(got[base + s] - hr), Math.abs(got[base + S + s] - hi));
        }
      }
    }
    expect(maxErr).toBeLessThan(Lp > 16 ? 3e-4 : 1e-4);
  });
});

describe("LRURec chunked scan", () => {
  // Packed rows: segments 1, 2, ... end to end, each starting with a padding position (the empty-history label slot)
  // or not, the row's unused tail one more segment; padded rows: a left-padding prefix, no segments.
  function rowsOf(Lp: number, layout: number[][]): { mask: Float32Array; segments: Float32Array } {
    const B = layout.length;
    const mask = new Float32Array(B * Lp);
    const segments = new Float32Array(B * Lp);
    layout.forEach((spans, r) => {
      let t = 0;
      spans.forEach((len, k) => {
        // a negative length is a span whose first position is padding
        const n = Math.abs(len);
        for (let i = 0; i < n; i++, t++) {
          segments[r * Lp + t] = k + 1;
          mask[r * Lp + t] = len < 0 && i === 0 ? 0 : 1;
        }
      });
      for (; t < Lp; t++) segments[r * Lp + t] = spans.length + 1;
    });
    return { mask, segments };
  }

  it.each([
    { Lp: 256, layout: [[-200, 40, 16], [17, -3, 5, 1, 100, 64], [256]], packed: true },
    { Lp: 64, layout: [[-16, 16, 15, 1], [33], [2, 2, 2, 2]], packed: true },
    { Lp: 8, layout: [[-3, 4], [8]], packed: true },
    { Lp: 256, layout: [], packed: false, lengths: [256, 200, 17, 16, 1, 0] },
    { Lp: 16, layout: [], packed: false, lengths: [16, 9, 1] },
    { Lp: 2, layout: [], packed: false, lengths: [2, 1] },
  ])("computes the tree scan's states and gradients (Lp $Lp, packed $packed)", ({ Lp, layout, packed, lengths }) => {
    const S = 3, C = 2 * S;
    let mask: Float32Array, segments: Float32Array | undefined;
    if (packed) ({ mask, segments } = rowsOf(Lp, layout));
    else {
      mask = new Float32Array(lengths!.length * Lp);
      lengths!.forEach((n, r) => mask.fill(1, r * Lp + Lp - n, (r + 1) * Lp));
    }
    const B = mask.length / Lp;
    const rng = new Rng(9);
    const ring = ringInit(S, 0.8, 0.99, rng);
    const results = (["tree", "chunked"] as const).map((kind) => {
      const store = new ParamStore(engine);
      const u = store.add("u", [B, Lp, C], { init: { kind: "normal", std: 1 } });
      const plog = store.add("plog", [2, S], { init: { kind: "zeros" } });
      const w = store.add("w", [B, Lp, C], { init: { kind: "normal", std: 1 } });
      store.initialize(new Rng(4));
      store.write(plog, ring.slice(0, 2 * S));
      const g = compile(engine, {
        mode: "grad",
        params: store,
        build: (b) => {
          const m = b.input("mask", [B, Lp]);
          const seg = segments ? b.input("segments", [B, Lp]) : undefined;
          const nu = b.exp(b.slice(plog, 0, 0, 1));
          const theta = b.exp(b.slice(plog, 0, 1, 1));
          const h = kind === "tree" ? lruScan(b, u, m, nu, theta, scanConstants(b, Lp, S, seg)) : lruScanChunked(b, u, nu, theta, chunkedScanConstants(b, m, S, seg));
          // a weighted sum over the real positions only: what a padding position holds reaches no output
          return { loss: b.sum(b.mul(b.mul(h, w), b.reshape(m, [B, Lp, 1]))) };
        },
      });
      const { loss } = g.run({ mask, ...(segments ? { segments } : {}) });
      const out = { loss, du: g.grad(u), dplog: g.grad(plog) };
      g.dispose();
      store.dispose();
      return out;
    });
    const [tree, chunked] = results;
    const rel = (a: Float32Array, b: Float32Array) => {
      let worst = 0, scale = 0;
      for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      return worst / Math.max(scale, 1e-6);
    };
    // float rounding only (seen: 1e-7 to 1.3e-5): the two sum the same terms in different orders
    expect(Math.abs(chunked.loss - tree.loss) / Math.max(1, Math.abs(tree.loss))).toBeLessThan(1e-4);
    expect(rel(tree.du, chunked.du)).toBeLessThan(1e-4);
    expect(rel(tree.dplog, chunked.dplog)).toBeLessThan(1e-4);
  });
});

describe("LRURec gradients vs central finite differences", () => {
  it("LRU layer + PFFN block (L = 8, D = 4, mask-aware)", () => {
    const B = 2, L = 8, D = 4, S = 2 * D;
    const mask = new Float32Array(B * L);
    mask.fill(1, 3, L); // row 0: 5 real items
    mask.fill(1, L + 1, 2 * L); // row 1: 7 real items
    const r = gradCheck(engine, {
      params: { x: [B, L, D], plog: [3, S], inW: [2 * S, D], inB: [2 * S], outW: [D, 2 * S], outB: [D], g: [D], c: [D] },
      scale: 0.5,
      // λ = exp(−exp(ν) + i·exp(θ)) has large third derivatives: at eps 1e-2 the central difference's own truncation
      // error reaches ~0.3% on ν, θ, γ; 5e-3 cuts it four-fold.
      eps: 5e-3,
      inputs: { mask },
      op: (b, p: P) => {
        const nu = b.exp(b.slice(p.plog, 0, 0, 1));
        const theta = b.exp(b.slice(p.plog, 0, 1, 1));
        const gamma = b.exp(b.slice(p.plog, 0, 2, 1));
        const u = b.mul(b.linear(p.x, p.inW, p.inB), b.concat([gamma, gamma], 1));
        const h = lruScan(b, u, b.input("mask", [B, L]), nu, theta, scanConstants(b, L, S));
        return b.layerNorm(b.add(b.linear(h, p.outW, p.outB), p.x), p.g, p.c);
      },
    });
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.maxRelErr, r.worst).toBeLessThan(3e-3);
  });

  it("whole model (encode + scores + CE) with a non-power-of-two window", () => {
    const config = tiny({ maxLen: 9, dropout: 0.2, lruDropout: 0.2 });
    const ctx: ModelContext = { nItems: 5, windowLen: LRURec.windowLength(config) };
    const store = new ParamStore(engine);
    const params = LRURec.declare(store, ctx, config);
    const initRng = new Rng(3);
    store.initialize(initRng);
    LRURec.afterInit!(store, params, config, initRng);
    // Embeddings at init (|e| < 0.04) sit where the embedding LayerNorm is far from linear on the scale of any usable
    // finite-difference step; scaled up, the check measures the backward pass rather than truncation error.
    store.write("item_emb", store.read("item_emb").map((v) => v * 25));
    const seqs = [[1, 2, 3, 4, 5, 1, 2], [3, 5], [2, 4, 1]];
    const B = seqs.length, L = config.maxLen;
    const inputs = windowInputs(seqs.map((s) => s.slice(0, -1)), L);
    const labels = windowInputs(seqs, L).ids;
    const g = compile(engine, {
      mode: "grad",
      params: store,
      rng: new Rng(11),
      build: (b) => {
        const h = LRURec.encode(b, params, sequenceInputs(b, B, L), ctx, config); // [B, L, D]
        const logits = LRURec.scores(b, params, b.reshape(h, [B * L, config.hidden]), ctx, config);
        return { loss: b.crossEntropy(logits, b.input("labels", [B * L], "i32"), { ignoreIndex: 0 }) };
      },
    });
    try {
      const feed = { ...inputs, labels };
      g.run(feed);
      const eps = 1e-3;
      let worst = 0, where = "";
      for (const p of store.list()) {
        const ga = g.grad(p);
        const orig = store.read(p);
        for (let i = 0; i < orig.length; i++) {
          const x = orig.slice();
          x[i] = orig[i] + eps;
          store.write(p, x);
          const lp = g.run(feed, { keepDropoutMasks: true }).loss;
          x[i] = orig[i] - eps;
          store.write(p, x);
          const lm = g.run(feed, { keepDropoutMasks: true }).loss;
          const fd = (lp - lm) / (2 * eps);
          const rel = Math.abs(fd - ga[i]) / Math.max(0.05, Math.abs(fd), Math.abs(ga[i]));
          if (rel > worst) {
            worst = rel;
            where = `${p.name}[${i}]: analytic ${ga[i]} vs numeric ${fd}`;
          }
        }
        store.write(p, orig);
      }
      expect(worst, where).toBeLessThan(1e-2);
    } finally {
      g.dispose();
      store.dispose();
    }
  });
});

describe("LRURec model", () => {
  it("declares the recipe's parameters with decay groups and ring init", () => {
    const config = tiny({ hidden: 8 });
    const store = new ParamStore(engine);
    const params = LRURec.declare(store, { nItems: 10, windowLen: 6 }, config);
    const initRng = new Rng(1);
    store.initialize(initRng);
    LRURec.afterInit!(store, params, config, initRng);
    const names = store.list().map((p) => p.name);
    expect(names).toContain("block1.lru.params_log");
    for (const p of store.list()) {
      const noDecay = p.name.includes("bias") || p.name.includes("layer_norm");
      expect(p.decay, p.name).toBe(!noDecay);
    }
    const plog = store.read("block0.lru.params_log");
    const S = 16;
    for (let s = 0; s < S; s++) {
      const modulus = Math.exp(-Math.exp(plog[s]));
      expect(modulus).toBeGreaterThanOrEqual(0.8 - 1e-6);
      expect(modulus).toBeLessThanOrEqual(0.99 + 1e-6);
      expect(Math.exp(plog[2 * S + s])).toBeCloseTo(Math.sqrt(1 - modulus * modulus), 5);
    }
    const emb = store.read("item_emb");
    expect(Math.max(...emb.map(Math.abs))).toBeLessThanOrEqual(0.04);
    expect(Math.max(...store.read("out_bias").map(Math.abs))).toBeGreaterThan(0); // biases are truncated-normal, not zero
    store.dispose();
  });

  it("window length is maxLen; pads to a power of two inside", () => {
    expect(LRURec.windowLength(tiny({ maxLen: 200 }))).toBe(200);
    expect(nextPowerOfTwo(200)).toBe(256);
    expect(nextPowerOfTwo(64)).toBe(64);
    expect(LRURec.vocabSize(10, tiny())).toBe(11);
  });

  it("outputs at real positions do not depend on what lies left of the first real item", async () => {
    // Same history, different window lengths (so different amounts of padding): last-position scores must agree.
    const config = tiny({ hidden: 8 });
    const ctx = { nItems: 9, windowLen: 6 };
    const store = new ParamStore(engine);
    const params = LRURec.declare(store, ctx, config);
    const initRng = new Rng(2);
    store.initialize(initRng);
    LRURec.afterInit!(store, params, config, initRng);
    const run = (L: number) => {
      const g = compile(engine, {
        mode: "eval",
        params: store,
        build: (b) => {
          const h = LRURec.encode(b, params, sequenceInputs(b, 1, L), ctx, config);
          return { outputs: { s: LRURec.scores(b, params, b.reshape(b.slice(h, 1, L - 1, 1), [1, 8]), ctx, config) } };
        },
      });
      g.run(windowInputs([[3, 1, 4]], L));
      const s = g.read("s");
      g.dispose();
      return s;
    };
    const a = run(4);
    const c = run(11);
    for (let i = 0; i < a.length; i++) expect(c[i]).toBeCloseTo(a[i], 4);
    store.dispose();
  });

  it("scores the same with the chunked scan (default) and the authors' tree scan", () => {
    // A window over two chunks (Lp 32), histories of different lengths: every position's scores.
    const config = tiny({ hidden: 8, maxLen: 20 });
    const ctx = { nItems: 9, windowLen: 20 };
    const store = new ParamStore(engine);
    const params = LRURec.declare(store, ctx, config);
    const initRng = new Rng(6);
    store.initialize(initRng);
    LRURec.afterInit!(store, params, config, initRng);
    const seqs = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4], [2, 7, 1], [5]];
    const run = (scan: LRURecConfig["scan"]) => {
      const g = compile(engine, {
        mode: "eval",
        params: store,
        build: (b) => {
          const h = LRURec.encode(b, params, sequenceInputs(b, seqs.length, 20), ctx, { ...config, scan });
          return { outputs: { s: LRURec.scores(b, params, b.reshape(h, [seqs.length * 20, 8]), ctx, config) } };
        },
      });
      g.run(windowInputs(seqs, 20));
      const s = g.read("s");
      g.dispose();
      return s;
    };
    const chunked = run("chunked");
    const tree = run("tree");
    expect(config.scan).toBe("chunked");
    let worst = 0;
    for (let i = 0; i < tree.length; i++) worst = Math.max(worst, Math.abs(chunked[i] - tree[i]));
    expect(worst).toBeLessThan(1e-5);
    store.dispose();
  });

  it("rejects a bad config naming the field", () => {
    const store = new ParamStore(engine);
    expect(() => LRURec.declare(store, { nItems: 3, windowLen: 4 }, tiny({ rMin: 0.99, rMax: 0.8 }))).toThrow(/rMin/);
    store.dispose();
  });
});

describe("GELU used by the PFFN", () => {
  it("is the tanh approximation: within 5e-4 of exact erf-GELU on [-10, 10] (the header's number)", () => {
    const n = 2001;
    const xs = Float32Array.from({ length: n }, (_, i) => -10 + (20 * i) / (n - 1));
    const store = new ParamStore(engine);
    store.add("unused", [1], { init: { kind: "zeros" } });
    store.initialize(new Rng(0));
    const g = compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { y: b.gelu(b.input("x", [n])) } }) });
    g.run({ x: xs });
    const y = g.read("y");
    g.dispose();
    store.dispose();
    let maxDiff = 0;
    for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i] - 0.5 * xs[i] * (1 + erf(xs[i] / Math.SQRT2))));
    expect(maxDiff).toBeGreaterThan(1e-4); // if this fails the engine switched to exact GELU: update the model header
    expect(maxDiff).toBeLessThan(5e-4);
  });
});

describe("LRURec training on the embedded dataset", () => {
  /** A minimal loop (the shared trainer owns the real one): last-window causal examples, full-softmax CE. */
  async function train(seed: number, steps: number): Promise<{ losses: number[]; emb: Float32Array }> {
    const ds = await loadDataset("embedded");
    const config = tiny({ hidden: 16, maxLen: 20, dropout: 0.1, lruDropout: 0.1, seed });
    const ctx: ModelContext = { nItems: ds.catalog.size, windowLen: LRURec.windowLength(config) };
    const store = new ParamStore(engine);
    const params = LRURec.declare(store, ctx, config);
    const rng = new Rng(seed);
    store.initialize(rng);
    LRURec.afterInit!(store, params, config, rng);
    const opt = new AdamW(store, { lr: 5e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
    const B = 32, L = config.maxLen;
    const g = compile(engine, {
      mode: "train",
      params: store,
      optimizer: opt,
      rng: rng.fork(),
      build: (b) => {
        const h = LRURec.encode(b, params, sequenceInputs(b, B, L), ctx, config);
        const logits = LRURec.scores(b, params, b.reshape(h, [B * L, config.hidden]), ctx, config);
        return { loss: b.crossEntropy(logits, b.input("labels", [B * L], "i32"), { ignoreIndex: 0 }) };
      },
    });
    const losses: number[] = [];
    try {
      const order = Array.from({ length: 256 }, (_, i) => i);
      for (let step = 0; step < steps; step++) {
        const users = order.slice((step * B) % order.length, ((step * B) % order.length) + B);
        const seqs = users.map((u) => Array.from(ds.train[u]));
        const feed = { ...windowInputs(seqs.map((s) => s.slice(0, -1)), L), labels: windowInputs(seqs, L).ids };
        losses.push(g.run(feed).loss);
      }
      return { losses, emb: store.read("item_emb") };
    } finally {
      g.dispose();
      opt.dispose();
      store.dispose();
    }
  }

  it("loss falls and a seed reproduces the run exactly", async () => {
    const a = await train(7, 40);
    const first = a.losses.slice(0, 8).reduce((s, x) => s + x, 0) / 8;
    const last = a.losses.slice(-8).reduce((s, x) => s + x, 0) / 8;
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(first - 0.5);
    const b = await train(7, 40);
    expect(b.losses).toEqual(a.losses);
    expect(b.emb).toEqual(a.emb);
  }, 60_000);
});

/** erf to ~1e-12 (Numerical Recipes erfc via Chebyshev), only to measure the GELU approximation. */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 2 / (2 + z);
  const ty = 4 * t - 2;
  const cof = [
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3, -9.46595344482036e-4,
    3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6, 1.30365583558e-6, 1.5626441722e-8,
    -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12,
    -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
  ];
  let d = 0, dd = 0;
  for (let j = cof.length - 1; j > 0; j--) {
    const tmp = d;
    d = ty * d - dd + cof[j];
    dd = tmp;
  }
  const erfcz = t * Math.exp(-z * z + 0.5 * (cof[0] + ty * d) - dd);
  return x >= 0 ? 1 - erfcz : erfcz - 1;
}

