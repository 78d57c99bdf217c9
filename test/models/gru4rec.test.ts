import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { GRU4Rec, type GRU4RecConfig } from "../../src/models/gru4rec.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { forwardShapes, gradCheckModel, instantiate, lastBatch, leftPad, randomizeParams, referenceGru, rowOf, trainLosses } from "./neural-harness.ts";

const engine = Engine.create({ threads: 1 }) // tiny graphs: a second thread only adds barrier waits;
afterAll(() => engine.dispose());

const tiny = (over: Partial<GRU4RecConfig> = {}): GRU4RecConfig => ({ ...GRU4Rec.defaults, hidden: 6, maxLen: 5, seed: 3, ...over });
const histories = [Int32Array.of(3, 1, 4, 1, 5, 2), Int32Array.of(2), Int32Array.of(6, 7, 1)];

/** nn.GRU + Linear in plain f64 over the unpadded history: what the left-padded, masked graph must equal. */
function referenceScores(read: (name: string) => Float32Array, hist: Int32Array, D: number, V: number): number[] {
  const E = read("item_emb");
  const states = referenceGru(read, "gru", Array.from(hist, (i) => rowOf(E, i, D)), D);
  const h = states[states.length - 1];
  const W = read("output.weight"), bo = read("output.bias");
  return Array.from({ length: V }, (_, v) => bo[v] + h.reduce((s, hj, j) => s + W[v * D + j] * hj, 0));
}

describe("gru4rec", () => {
  it("every preset passes the shared config validation", () => {
    for (const name of Object.keys(GRU4Rec.presets)) expect(resolveConfig(GRU4Rec, { preset: name }).preset).toBe(name);
    expect(Object.keys(GRU4Rec.presets)).toContain("ml-latest-small");
  });

  it("declares nn.GRU-shaped parameters and an untied N+1 head", () => {
    const m = instantiate(engine, GRU4Rec, tiny(), 7);
    const shapes = Object.fromEntries(m.store.list().map((p) => [p.name, [...p.shape]]));
    expect(shapes).toEqual({
      item_emb: [8, 6],
      "gru.weight_ih_l0": [18, 6],
      "gru.weight_hh_l0": [18, 6],
      "gru.bias_ih_l0": [18],
      "gru.bias_hh_l0": [18],
      "output.weight": [8, 6],
      "output.bias": [8],
    });
    expect(GRU4Rec.objective(m.config)).toEqual({ kind: "last" });
    expect(GRU4Rec.vocabSize(7, m.config)).toBe(8);
    // PyTorch's default GRU/Linear init: U(±1/√H)
    const w = m.store.read("gru.weight_hh_l0");
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(6));
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.8 / Math.sqrt(6));
    m.store.dispose();
  });

  it("scores equal an unpadded f64 GRU reference (left padding is carried through, not fed)", () => {
    const m = instantiate(engine, GRU4Rec, tiny(), 7);
    // larger weights than the init so the gates are far from linear
    randomizeParams(m.store, 0.6, 9);
    const out = forwardShapes(engine, m, leftPad(histories, 5), 3);
    expect(out.hShape).toEqual([3, 6]);
    expect(out.sShape).toEqual([3, 8]);
    histories.forEach((h, b) => {
      const ref = referenceScores((n) => m.store.read(n), h.subarray(Math.max(0, h.length - 5)), 6, 8);
      ref.forEach((v, j) => expect(out.s[b * 8 + j]).toBeCloseTo(v, 4));
    });
    m.store.dispose();
  });

  it("gradients of the whole model match finite differences", () => {
    const m = instantiate(engine, GRU4Rec, tiny(), 7);
    const r = gradCheckModel(engine, m, leftPad(histories, 5), 3);
    expect(r.deadParams).toEqual([]);
    expect(r.maxRelErr, r.worst).toBeLessThan(2e-2);
    m.store.dispose();
  });

  it("loss falls on the embedded dataset and a seed reproduces the run exactly", async () => {
    const ds = await loadDataset("embedded");
    const run = (seed: number) =>
      trainLosses(engine, GRU4Rec, { ...GRU4Rec.defaults, hidden: 32, seed }, ds.catalog.size, {
        B: 64, lr: 2e-2, steps: 60, batch: (rng, m) => lastBatch(ds, 64, m.config.maxLen, rng),
      });
    const a = run(1);
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(a[0]).toBeCloseTo(Math.log(ds.catalog.size + 1), 0);
    expect(mean(a.slice(-10))).toBeLessThan(mean(a.slice(0, 10)) - 0.4);
    expect(run(1)).toEqual(a);
    expect(run(2)[0]).not.toBe(a[0]);
  });
});
