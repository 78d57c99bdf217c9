import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine } from "../../src/engine/index.ts";
import { SASRec, type SASRecConfig } from "../../src/models/sasrec.ts";
import { Rng } from "../../src/rng.ts";
import { encodeInputs, instantiate, leftPad, lossGraph, optimizerFor, randomizeParams, type ModelUnderTest } from "./neural-harness.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

const tiny = (over: Partial<SASRecConfig> = {}): SASRecConfig => ({ ...SASRec.defaults, hidden: 8, heads: 2, maxLen: 5, seed: 3, dropout: 0, attnDropout: 0, ...over });
const N = 9;

/** XAttack's SASRec forward (recipes §2) in plain f64 over one left-padded window: hidden states of every position. */
function referenceHidden(read: (name: string) => ArrayLike<number>, c: SASRecConfig, ids: number[]): number[][] {
  const D = c.hidden;
  const H = c.heads;
  const dk = D / H;
  const L = ids.length;
  const E = read("item_emb");
  const P = read("pos_emb");
  let pos = 0;
  const positions = ids.map((id) => (id > 0 ? ++pos : 0));
  let x = ids.map((id, t) => Array.from({ length: D }, (_, k) => E[id * D + k] + P[positions[t] * D + k]));
  const ln = (v: number[], w: ArrayLike<number>, b: ArrayLike<number>) => {
    const m = v.reduce((s, a) => s + a, 0) / D;
    const varr = v.reduce((s, a) => s + (a - m) ** 2, 0) / D;
    return v.map((a, k) => ((a - m) / Math.sqrt(varr + c.layerNormEps)) * w[k] + b[k]);
  };
  const lin = (v: number[], W: ArrayLike<number>, b: ArrayLike<number>, out: number) =>
    Array.from({ length: out }, (_, r) => v.reduce((s, a, k) => s + W[r * v.length + k] * a, 0) + b[r]);
  for (let i = 0; i < c.blocks; i++) {
    const r = (n: string) => read(`block${i}.${n}`);
    const q = x.map((v) => ln(v, r("layer_norm1.weight"), r("layer_norm1.bias")));
    const Q = q.map((v) => lin(v, r("attn.q.weight"), r("attn.q.bias"), D));
    const K = x.map((v) => lin(v, r("attn.k.weight"), r("attn.k.bias"), D));
    const V = x.map((v) => lin(v, r("attn.v.weight"), r("attn.v.bias"), D));
    const attn = x.map(() => new Array<number>(D).fill(0));
    for (let h = 0; h < H; h++) {
      for (let a = 0; a < L; a++) {
        // masked_fill(-1e9): a fully masked row is uniform over ALL keys (the recipe's quirk)
        const s = Array.from({ length: L }, (_, j) => {
          if (!(j <= a && ids[j] > 0)) return -1e9;
          let d = 0;
          for (let k = 0; k < dk; k++) d += Q[a][h * dk + k] * K[j][h * dk + k];
          return d / Math.sqrt(dk);
        });
        const mx = Math.max(...s);
        const w = s.map((v) => Math.exp(v - mx));
        const z = w.reduce((t, v) => t + v, 0);
        for (let j = 0; j < L; j++) for (let k = 0; k < dk; k++) attn[a][h * dk + k] += (w[j] / z) * V[j][h * dk + k];
      }
    }
    x = attn.map((v, t) => ln(v.map((a, k) => a + q[t][k]), r("layer_norm2.weight"), r("layer_norm2.bias")));
    x = x.map((v) => {
      const f1 = lin(v, r("ffn.w1.weight"), r("ffn.w1.bias"), 4 * D).map((a) => Math.max(0, a));
      const f2 = lin(f1, r("ffn.w2.weight"), r("ffn.w2.bias"), D);
      return ln(f2.map((a, k) => a + v[k]), r("layer_norm3.weight"), r("layer_norm3.bias"));
    });
  }
  return x;
}

function hiddenOf(m: ModelUnderTest<SASRecConfig>, histories: Int32Array[]): Float32Array {
  const B = histories.length;
  const g = compile(engine, { mode: "eval", params: m.store, build: (b) => ({ outputs: { h: encodeInputs(b, m, B) } }) });
  try {
    const x = leftPad(histories, m.ctx.windowLen);
    g.run({ ids: x.ids, mask: x.mask, positions: x.positions });
    return g.read("h");
  } finally {
    g.dispose();
  }
}

describe("sasrec", () => {
  it("declares the recipe's parameters: N(0,1) embeddings with a zero padding row, truncated-normal blocks, no decay on biases/LN", () => {
    const m = instantiate(engine, SASRec, tiny(), N);
    const shapes = Object.fromEntries(m.store.list().map((p) => [p.name, [...p.shape]]));
    expect(shapes.item_emb).toEqual([N + 1, 8]);
    expect(shapes.pos_emb).toEqual([6, 8]);
    expect(shapes["block0.ffn.w1.weight"]).toEqual([32, 8]);
    expect(shapes["block1.ffn.w2.weight"]).toEqual([8, 32]);
    expect(Object.keys(shapes)).toHaveLength(2 + 2 * 16);
    const emb = m.store.read("item_emb");
    expect(Array.from(emb.subarray(0, 8))).toEqual(new Array(8).fill(0));
    expect(Math.max(...emb.map(Math.abs))).toBeGreaterThan(1); // N(0,1), not truncated
    for (const p of m.store.list()) {
      const v = m.store.read(p);
      if (p.name.includes("layer_norm")) expect(p.decay, p.name).toBe(false);
      else if (p.name.endsWith("bias")) {
        expect(p.decay, p.name).toBe(false);
        expect(Math.max(...v.map(Math.abs)), p.name).toBeLessThanOrEqual(0.04 + 1e-7);
        expect(v.some((x) => x !== 0), p.name).toBe(true);
      } else expect(p.decay, p.name).toBe(true);
    }
    m.store.dispose();
  });

  it('embeddingInit "truncated-normal" draws both embeddings within ±0.04 (padding row still zero); a bad value names the field', () => {
    const m = instantiate(engine, SASRec, tiny({ embeddingInit: "truncated-normal" }), N);
    for (const name of ["item_emb", "pos_emb"]) {
      const v = m.store.read(name);
      expect(Math.max(...v.map(Math.abs)), name).toBeLessThanOrEqual(0.04 + 1e-7);
      expect(v.some((x) => x !== 0), name).toBe(true);
    }
    expect(Array.from(m.store.read("item_emb").subarray(0, 8))).toEqual(new Array(8).fill(0));
    m.store.dispose();
    expect(() => instantiate(engine, SASRec, tiny({ embeddingInit: "xavier" as never }), N)).toThrow(/embeddingInit/);
  });

  it("matches an f64 reference of the authors' forward at every position, padding rows included", () => {
    const c = tiny();
    const m = instantiate(engine, SASRec, c, N);
    randomizeParams(m.store, 0.5, 17);
    const hist = [Int32Array.of(3, 1, 4, 9, 5, 2), Int32Array.of(2, 7)];
    const h = hiddenOf(m, hist);
    const read = (n: string) => m.store.read(n);
    const L = 5;
    let maxErr = 0;
    hist.forEach((seq, b) => {
      const ids = Array.from(leftPad([seq], L).ids);
      const ref = referenceHidden(read, c, ids);
      for (let t = 0; t < L; t++) for (let k = 0; k < 8; k++) maxErr = Math.max(maxErr, Math.abs(ref[t][k] - h[(b * L + t) * 8 + k]));
    });
    expect(maxErr).toBeLessThan(2e-4);
    m.store.dispose();
  });

  it("real positions are causal; a padding query attends to every key, future included (recipe quirk)", () => {
    const m = instantiate(engine, SASRec, tiny(), N);
    randomizeParams(m.store, 0.5, 5);
    const h = hiddenOf(m, [Int32Array.of(4, 6, 8), Int32Array.of(4, 6, 1)]);
    const at = (b: number, t: number) => Array.from(h.subarray((b * 5 + t) * 8, (b * 5 + t + 1) * 8));
    expect(at(0, 3)).toEqual(at(1, 3)); // item 6's state does not see the next item
    expect(at(0, 2)).toEqual(at(1, 2));
    expect(at(0, 4)).not.toEqual(at(1, 4));
    expect(at(0, 0)).not.toEqual(at(1, 0)); // padding row sees the (different) last item
    m.store.dispose();
  });

  it("gradients of the whole encoder match f64 finite differences of the reference forward", () => {
    // FD on the f64 reference (not on the f32 graph): LayerNorm over a tiny D and ReLU kinks make f32 FD too noisy.
    const c = tiny({ hidden: 4, maxLen: 4 });
    const m = instantiate(engine, SASRec, c, 6);
    randomizeParams(m.store, 0.5, 21);
    for (const p of m.store.list()) if (p.name.includes("layer_norm") && p.name.endsWith("weight")) m.store.write(p, m.store.read(p).map((v) => 1 + v));
    const hist = [Int32Array.of(1, 2, 3, 4, 5), Int32Array.of(6, 2)];
    const x = leftPad(hist, 4);
    const rng = new Rng(8);
    const R = Float64Array.from({ length: 2 * 4 * 4 }, () => rng.normal());
    const g = compile(engine, {
      mode: "grad",
      params: m.store,
      build: (b) => {
        const h = encodeInputs(b, m, 2);
        return { loss: b.sum(b.mul(h, b.constant(Float32Array.from(R), h.shape))) };
      },
    });
    g.run({ ids: x.ids, mask: x.mask, positions: x.positions });
    const values = new Map(m.store.list().map((p) => [p.name, Float64Array.from(m.store.read(p))]));
    const refLoss = () => {
      let loss = 0;
      hist.forEach((_, b) => {
        const ids = Array.from(x.ids.subarray(b * 4, b * 4 + 4));
        referenceHidden((n) => values.get(n)!, c, ids).forEach((row, t) => row.forEach((v, k) => (loss += v * R[(b * 4 + t) * 4 + k])));
      });
      return loss;
    };
    let worst = 0;
    let where = "";
    let checked = 0;
    for (const p of m.store.list()) {
      const ga = g.grad(p);
      const v = values.get(p.name)!;
      for (let i = 0; i < v.length; i += Math.max(1, Math.floor(v.length / 12))) {
        const o = v[i];
        v[i] = o + 1e-6;
        const lp = refLoss();
        v[i] = o - 1e-6;
        const lm = refLoss();
        v[i] = o;
        const fd = (lp - lm) / 2e-6;
        const err = Math.abs(fd - ga[i]) / Math.max(1, Math.abs(fd));
        checked++;
        if (err > worst) {
          worst = err;
          where = `${p.name}[${i}]: analytic ${ga[i]} vs f64 FD ${fd}`;
        }
      }
    }
    g.dispose();
    m.store.dispose();
    expect(checked).toBeGreaterThan(200);
    expect(worst, where).toBeLessThan(2e-3);
  });

  it("the loss falls over a few steps on a fixed batch, deterministically for a seed", () => {
    const run = () => {
      const m = instantiate(engine, SASRec, tiny({ dropout: 0.2, attnDropout: 0.2 }), N);
      const opt = optimizerFor(m, 1e-2);
      const g = lossGraph(engine, m, 2, "train", opt);
      const x = leftPad([Int32Array.of(1, 2, 3, 4), Int32Array.of(5, 6, 7)], 5);
      const targets = Int32Array.from([0, 2, 3, 4, 5, 0, 0, 6, 7, 8]);
      const losses: number[] = [];
      for (let i = 0; i < 30; i++) losses.push(g.run({ ...x, targets }).loss);
      g.dispose();
      opt.dispose();
      m.store.dispose();
      return losses;
    };
    const a = run();
    expect(a[29]).toBeLessThan(a[0] * 0.7);
    expect(run()).toEqual(a);
  });

  it("presets follow the recipe table", () => {
    expect(SASRec.presets["ml-1m"]).toMatchObject({ maxLen: 200, batchSize: 128, evalBatchSize: 256, patience: 10 });
    expect(SASRec.presets.beauty).toMatchObject({ maxLen: 50, batchSize: 64 });
    expect(SASRec.presets.beauty.embeddingInit).toBeUndefined(); // paper presets keep the recipe's N(0, 1)
    expect(SASRec.presets.embedded.embeddingInit).toBe("truncated-normal");
    expect(SASRec.defaults).toMatchObject({ maxLen: 200, batchSize: 16, lr: 1e-3, weightDecay: 0.01, eps: 1e-9, clipNorm: 5, validateEvery: 500, patience: 20, maskHistoryInValidation: false });
    void new Rng(0);
  });
});
