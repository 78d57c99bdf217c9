import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { Caser, type CaserConfig } from "../../src/models/caser.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { expectLossFallsReproducibly, expectModelGradientsMatch, forwardShapes, instantiate, lastItemRun, leftPad, randomizeParams, rowOf } from "./neural-harness.ts";

const engine = Engine.create({ threads: 1 }); // tiny graphs: a second thread only adds barrier waits
afterAll(() => engine.dispose());

const tiny = (over: Partial<CaserConfig> = {}): CaserConfig => ({ ...Caser.defaults, hidden: 4, maxLen: 5, horizontalFilters: 3, filterHeights: [2, 3], seed: 3, ...over });
const histories = [Int32Array.of(3, 1, 4, 1, 5, 2), Int32Array.of(2), Int32Array.of(6, 7, 1)];

/** LLaRA's Caser forward in f64 over a left-padded window of L rows (padding rows are zero vectors). */
function referenceScores(read: (name: string) => Float32Array, window: number[], c: CaserConfig, V: number): number[] {
  const D = c.hidden;
  const E = read("item_emb");
  const img = window.map((id) => (id === 0 ? new Array<number>(D).fill(0) : rowOf(E, id, D))); // [L][D]
  const relu = (v: number) => Math.max(0, v);
  const feats: number[] = [];
  c.filterHeights.forEach((h, i) => {
    const W = read(`horizontal_cnn.${i}.weight`); // [F, D, h]
    const bias = read(`horizontal_cnn.${i}.bias`);
    for (let f = 0; f < c.horizontalFilters; f++) {
      let best = -Infinity;
      for (let t = 0; t + h <= window.length; t++) {
        let s = bias[f];
        for (let k = 0; k < h; k++) for (let d = 0; d < D; d++) s += W[(f * D + d) * h + k] * img[t + k][d];
        best = Math.max(best, relu(s));
      }
      feats.push(best);
    }
  });
  const wv = read("vertical_cnn.weight"), bv = read("vertical_cnn.bias")[0];
  for (let d = 0; d < D; d++) feats.push(relu(bv + img.reduce((s, row, t) => s + wv[t] * row[d], 0)));
  const W = read("output.weight"), bo = read("output.bias");
  return Array.from({ length: V }, (_, v) => bo[v] + feats.reduce((s, x, j) => s + W[v * feats.length + j] * x, 0));
}

describe("caser", () => {
  it("every preset passes the shared config validation", () => {
    for (const name of Object.keys(Caser.presets)) expect(resolveConfig(Caser, { preset: name }).preset).toBe(name);
    expect(Object.keys(Caser.presets)).toContain("ml-latest-small");
  });

  it("declares horizontal, vertical and head parameters with LLaRA's init", () => {
    const m = instantiate(engine, Caser, Caser.defaults, 50);
    const shapes = Object.fromEntries(m.store.list().map((p) => [p.name, [...p.shape]]));
    expect(shapes).toEqual({
      item_emb: [51, 64],
      "horizontal_cnn.0.weight": [16, 64, 2],
      "horizontal_cnn.1.weight": [16, 64, 3],
      "horizontal_cnn.2.weight": [16, 64, 4],
      "horizontal_cnn.0.bias": [16],
      "horizontal_cnn.1.bias": [16],
      "horizontal_cnn.2.bias": [16],
      "vertical_cnn.weight": [1, 10],
      "vertical_cnn.bias": [1],
      "output.weight": [51, 112],
      "output.bias": [51],
    });
    expect(Array.from(m.store.read("horizontal_cnn.1.bias"))).toEqual(new Array(16).fill(0.1).map(Math.fround));
    const w = m.store.read("horizontal_cnn.0.weight");
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.8 * Math.sqrt(2 / (17 * 2 * 64)));
    expect(std).toBeLessThan(1.2 * Math.sqrt(2 / (17 * 2 * 64)));
    m.store.dispose();
  });

  it("rejects a filter taller than the window", () => {
    expect(() => instantiate(engine, Caser, tiny({ filterHeights: [6] }), 7)).toThrow(ReclmError);
  });

  it("scores equal LLaRA's forward in f64 (padding rows are zero)", () => {
    const c = tiny();
    const m = instantiate(engine, Caser, c, 7);
    randomizeParams(m.store, 0.6, 9);
    const batch = leftPad(histories, 5);
    const out = forwardShapes(engine, m, batch, 3);
    expect(out.hShape).toEqual([3, 3 * 2 + 4]);
    expect(out.sShape).toEqual([3, 8]);
    for (let b = 0; b < 3; b++) {
      const ref = referenceScores((n) => m.store.read(n), Array.from(batch.ids.subarray(b * 5, b * 5 + 5)), c, 8);
      ref.forEach((v, j) => expect(out.s[b * 8 + j]).toBeCloseTo(v, 4));
    }
    m.store.dispose();
  });

  it("gradients of the whole model (dropout on) match finite differences", () => {
    expectModelGradientsMatch(engine, Caser, tiny({ dropout: 0.2 }), 7, histories, 5, { eps: 3e-3 });
  });

  it("loss falls on the embedded dataset and a seed reproduces the run exactly", async () => {
    const ds = await loadDataset("embedded");
    const run = lastItemRun(engine, Caser, (seed) => ({ ...Caser.defaults, hidden: 32, seed }), ds, { B: 64, lr: 1e-2 });
    expectLossFallsReproducibly(run, { steps: 150, window: 15, drop: 0.3, nItems: ds.catalog.size });
  });
});
