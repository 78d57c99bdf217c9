/**
 * `windowInvariant` (contract.ts): a model that declares it must give every history the same scores through any
 * window that holds it, since evaluation and serving then run the shortest one (recommender.ts windowFor). Checked on
 * every registered model with random parameters (no training: the property is the architecture's) and histories of
 * many lengths, including ones longer than maxLen (cut to their last maxLen items either way); a model that does not
 * declare it must really depend on its padding, so that a declaration is never missing where it holds.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "../../../src/engine/index.ts";
import { resolveConfig } from "../../../src/models/neural/config.ts";
import { NeuralRecommender } from "../../../src/models/neural/recommender.ts";
import { getNeuralModel, NEURAL_MODEL_NAMES } from "../../../src/models/registry.ts";
import { ReclmError } from "../../../src/errors.ts";
import { Rng } from "../../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());
const N = 50;

function histories(lengths: readonly number[], seed: number): Int32Array[] {
  const rng = new Rng(seed);
  return lengths.map((n) => Int32Array.from({ length: n }, () => rng.int(1, N + 1)));
}

/** Largest |a - b| relative to the scores' scale. */
function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

describe("windowInvariant", () => {
  it.each([...NEURAL_MODEL_NAMES])("%s: the declaration matches what the scores do", (name) => {
    const def = getNeuralModel(name);
    const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 20, hidden: 16, evalBatchSize: 8, seed: 5 } });
    const rec = new NeuralRecommender(def, config, N, { engine });
    try {
      const L = rec.ctx.windowLen;
      const cloze = rec.objective.kind === "cloze" ? 1 : 0;
      let worst = 0;
      let refused = 0;
      for (const n of [1, 2, 3, 5, 7, 8, 13, 19, 20, 27]) {
        const hs = histories([n, Math.max(1, n - 1), n], n);
        const full = rec.scoreAllSync(hs, { window: L });
        const need = Math.max(2, Math.min(n + cloze, config.maxLen));
        for (let w = need; w < L; w++) {
          try {
            worst = Math.max(worst, maxRelDiff(full, rec.scoreAllSync(hs, { window: w })));
          } catch (e) {
            // An architecture built for its exact window (Caser's vertical convolution) refuses a shorter one as a shape error.
            if (def.windowInvariant || !(e instanceof ReclmError && e.code === "RECLM_ERR_SHAPE")) throw e;
            refused++;
          }
        }
      }
      if (def.windowInvariant) expect(worst).toBeLessThan(1e-5);
      else expect(refused > 0 || worst > 1e-3).toBe(true);
    } finally {
      rec.dispose();
    }
  });

  it("a window-invariant model runs short histories through a short window, with the whole window's scores", () => {
    const def = getNeuralModel("lrurec");
    expect(def.windowInvariant).toBe(true);
    const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 64, hidden: 16, evalBatchSize: 4, seed: 3 } });
    const rec = new NeuralRecommender(def, config, N, { engine });
    try {
      // 6 histories: a chunk of 4 (longest 5: window 8) and a chunk of 2 (longest 40: window 64).
      const hs = histories([3, 5, 1, 2, 40, 9], 11);
      const auto = rec.scoreAllSync(hs);
      const full = rec.scoreAllSync(hs, { window: rec.ctx.windowLen });
      expect(maxRelDiff(full, auto)).toBeLessThan(1e-5);
      const shapes = [...(rec as unknown as { evalGraphs: Map<string, unknown> }).evalGraphs.keys()];
      expect(shapes).toContain("4x8");
      expect(shapes).toContain("2x64");
      expect(() => rec.scoreAllSync(hs, { window: 65 })).toThrow(/window must be an integer in 2..64/);
    } finally {
      rec.dispose();
    }
  });

  it("a window of one position is refused as a config error (several encoders' graphs abort natively on it)", () => {
    for (const name of NEURAL_MODEL_NAMES) {
      expect(() => resolveConfig(getNeuralModel(name), { preset: "none", config: { maxLen: 1 } })).toThrow(/maxLen.*must be an integer >= 2/);
    }
  });

  it("warmUp runs every shape a forward of up to maxBatch histories can take", async () => {
    const def = getNeuralModel("sasrec");
    const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 50, hidden: 16, evalBatchSize: 8, seed: 3 } });
    const rec = new NeuralRecommender(def, config, N, { engine });
    try {
      await rec.warmUp(4);
      const shapes = [...(rec as unknown as { evalGraphs: Map<string, unknown> }).evalGraphs.keys()].sort();
      expect(shapes).toEqual(["1x16", "1x32", "1x50", "1x8", "2x16", "2x32", "2x50", "2x8", "4x16", "4x32", "4x50", "4x8"]);
    } finally {
      rec.dispose();
    }
  });
});
