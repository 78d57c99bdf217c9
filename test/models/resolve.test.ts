import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../src/contracts.ts";
import { loadDataset } from "../../src/data/index.ts";
import { trainModel } from "../../src/models/neural/trainer.ts";
import { LRURec } from "../../src/models/lrurec.ts";
import { NeuralRecommender } from "../../src/models/neural/recommender.ts";
import { resolveModel } from "../../src/models/resolve.ts";

let ds: SequenceDataset;
let runDir: string;
beforeAll(async () => {
  ds = await loadDataset("embedded");
  runDir = join(mkdtempSync(join(tmpdir(), "reclm-resolve-")), "lru");
  const res = await trainModel(LRURec, ds, { preset: "none", config: { maxLen: 8, hidden: 8, validateEvery: 1 }, threads: 1, maxSteps: 1, evalTest: false, outDir: runDir });
  res.recommender.dispose();
}, 60_000);

describe("resolveModel", () => {
  it("a baseline's name is the baseline, built for the split (the validation items count only for test)", async () => {
    const item = ds.val[0];
    const count = async (split: "val" | "test") => {
      const pop = await resolveModel("pop", ds, { split });
      expect(pop.name).toBe("pop");
      return (await pop.scoreAll([ds.train[0]]))[item];
    };
    expect((await count("test")) - (await count("val"))).toBe(ds.val.filter((v) => v === item).length);
  });

  it("a run dir is the trained model it holds", async () => {
    const model = await resolveModel(runDir, ds, { split: "test", threads: 1 });
    try {
      expect(model).toBeInstanceOf(NeuralRecommender);
      expect(model.name).toBe("lrurec");
      expect((model as NeuralRecommender).engine.threads).toBe(1);
    } finally {
      await model.dispose?.();
    }
  });

  it("a trainable model's bare name says how to train it; an unknown spec lists what is known", async () => {
    await expect(resolveModel("lru", ds, { split: "test" })).rejects.toThrow(/"lru" must be trained first: reclm train --model lru/);
    await expect(resolveModel("lstm", ds, { split: "test" })).rejects.toThrow(/unknown model "lstm" \(known: pop, cooc, <run dir of reclm train>\)/);
  });

  it("a run dir trained on another dataset or split is refused, naming its config.json", async () => {
    const other = { ...ds, name: "ml-latest-small" };
    await expect(resolveModel(runDir, other, { split: "test" })).rejects.toThrow(/trained on embedded \(protocol embedded\); it cannot score ml-latest-small/);
    const shorter = { ...ds, test: ds.test.map((t, u) => (u === 0 ? t + 1 : t)) };
    await expect(resolveModel(runDir, shorter, { split: "test" })).rejects.toThrow(/another split of embedded.*config\.json|config\.json.*datasetFingerprint/s);
  });
});
