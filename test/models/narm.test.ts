import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { NARM, type NARMConfig } from "../../src/models/narm.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { expectLossFallsReproducibly, expectScoresMatchReference, expectModelGradientsMatch, instantiate, lastItemRun, randomizeParams, referenceGru, rowOf } from "./neural-harness.ts";

const engine = Engine.create({ threads: 1 }); // tiny graphs: a second thread only adds barrier waits
afterAll(() => engine.dispose());

const tiny = (over: Partial<NARMConfig> = {}): NARMConfig => ({ ...NARM.defaults, hidden: 4, maxLen: 5, seed: 3, ...over });
const histories = [Int32Array.of(3, 1, 4, 1, 5, 2), Int32Array.of(2), Int32Array.of(6, 7, 1)];

/** XAttack's NARM forward in plain f64 over the unpadded history (no dropout). */
function referenceScores(read: (name: string) => Float32Array, hist: Int32Array, D: number, V: number): number[] {
  const H = 2 * D;
  const E = read("token.weight");
  const hs = referenceGru(read, "gru", Array.from(hist, (i) => rowOf(E, i, D)), H);
  const cg = hs[hs.length - 1];
  const mv = (W: Float32Array, x: number[], rows: number) => Array.from({ length: rows }, (_, r) => x.reduce((s, v, k) => s + W[r * x.length + k] * v, 0));
  const Ag = read("a_global.weight"), Al = read("a_local.weight"), v = read("v_vector.weight"), Bv = read("b_vetor.weight");
  const q1 = mv(Ag, cg, H);
  const hsig = (t: number) => Math.min(1, Math.max(0, t / 6 + 0.5));
  const e = hs.map((h) => mv(Al, h, H).reduce((s, q, j) => s + v[j] * hsig(q + q1[j]), 0));
  const mx = Math.max(...e);
  const w = e.map((x) => Math.exp(x - mx));
  const z = w.reduce((s, x) => s + x, 0);
  const cl = new Array<number>(H).fill(0);
  hs.forEach((h, t) => h.forEach((x, j) => (cl[j] += (w[t] / z) * x)));
  const c = [...cg, ...cl];
  return Array.from({ length: V }, (_, i) => {
    const proj = mv(Bv, rowOf(E, i, D), 2 * H);
    return proj.reduce((s, p, j) => s + p * c[j], 0);
  });
}

describe("narm", () => {
  it("every preset passes the shared config validation", () => {
    for (const name of Object.keys(NARM.presets)) expect(resolveConfig(NARM, { preset: name }).preset).toBe(name);
    expect(Object.keys(NARM.presets)).toContain("ml-latest-small");
  });

  it("declares a 2D-hidden GRU, attention and a bilinear decoder; truncated-normal everywhere", () => {
    const m = instantiate(engine, NARM, tiny(), 7);
    const shapes = Object.fromEntries(m.store.list().map((p) => [p.name, [...p.shape]]));
    expect(shapes).toEqual({
      "token.weight": [8, 4],
      "gru.weight_ih_l0": [24, 4],
      "gru.weight_hh_l0": [24, 8],
      "gru.bias_ih_l0": [24],
      "gru.bias_hh_l0": [24],
      "a_global.weight": [8, 8],
      "a_local.weight": [8, 8],
      "v_vector.weight": [1, 8],
      "b_vetor.weight": [16, 4],
    });
    for (const p of m.store.list()) {
      const v = m.store.read(p);
      expect(Math.max(...v.map(Math.abs)), p.name).toBeLessThanOrEqual(0.04 + 1e-7);
      expect(v.some((x) => x !== 0), p.name).toBe(true);
      expect(p.decay, p.name).toBe(!p.name.includes("bias"));
    }
    m.store.dispose();
  });

  it("scores equal XAttack's forward in f64 (padding gets no attention, left padding is not fed to the GRU)", () => {
    const m = instantiate(engine, NARM, tiny(), 7);
    randomizeParams(m.store, 0.6, 9);
    expectScoresMatchReference(engine, m, histories, 5, { hidden: 16, vocab: 8 }, (h) => referenceScores((n) => m.store.read(n), h, 4, 8));
    m.store.dispose();
  });

  it("gradients of the whole model (dropout on) match finite differences", () => {
    expectModelGradientsMatch(engine, NARM, tiny({ dropout: 0.2, attnDropout: 0.2 }), 7, histories, 5);
  });

  it("loss falls on the embedded dataset and a seed reproduces the run exactly", async () => {
    const ds = await loadDataset("embedded");
    const run = lastItemRun(engine, NARM, (seed) => ({ ...NARM.defaults, hidden: 16, maxLen: 12, seed }), ds, { B: 64, lr: 3e-2 });
    expectLossFallsReproducibly(run, { steps: 150, window: 15, drop: 0.3, nItems: ds.catalog.size });
  });
});
