import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { GRU4Rec, type GRU4RecConfig } from "../../src/models/gru4rec.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { expectLossFallsReproducibly, expectScoresMatchReference, expectModelGradientsMatch, instantiate, lastItemRun, randomizeParams, referenceGru, rowOf } from "./neural-harness.ts";

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
    expectScoresMatchReference(engine, m, histories, 5, { hidden: 6, vocab: 8 }, (h) => referenceScores((n) => m.store.read(n), h, 6, 8));
    m.store.dispose();
  });

  it("gradients of the whole model match finite differences", () => {
    expectModelGradientsMatch(engine, GRU4Rec, tiny(), 7, histories, 5);
  });

  it("loss falls on the embedded dataset and a seed reproduces the run exactly", async () => {
    const ds = await loadDataset("embedded");
    const run = lastItemRun(engine, GRU4Rec, (seed) => ({ ...GRU4Rec.defaults, hidden: 32, seed }), ds, { B: 64, lr: 2e-2 });
    expectLossFallsReproducibly(run, { steps: 60, window: 10, drop: 0.4, nItems: ds.catalog.size, rerun: 60 });
  });
});
