import { beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../src/contracts.ts";
import { loadDataset } from "../../src/data/index.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { trainModel } from "../../src/models/neural/trainer.ts";
import {
  allModelNames,
  BASELINE_NAMES,
  canonicalModelName,
  createBaseline,
  getNeuralModel,
  isNeuralModelName,
  lookupModel,
  MODEL_REGISTRY,
  NEURAL_MODEL_NAMES,
  NEURAL_MODELS,
} from "../../src/models/registry.ts";

let ds: SequenceDataset;
beforeAll(async () => {
  ds = await loadDataset("embedded");
});

describe("model registry", () => {
  it("accepts the authors' model codes as aliases (LlamaRec's `lru`, XAttack's `bert`)", () => {
    expect(canonicalModelName("lru")).toBe("lrurec");
    expect(getNeuralModel("lru").name).toBe("lrurec");
    expect(getNeuralModel("bert").name).toBe("bert4rec");
    expect(isNeuralModelName("sas")).toBe(true);
    expect(canonicalModelName("cooc")).toBe("cooc");
  });

  it("an unknown name lists the models and the aliases", () => {
    expect(() => getNeuralModel("lstm")).toThrow(/unknown model "lstm" \(trainable: lrurec, sasrec.*aliases: lru/);
  });
});

describe("registry", () => {
  it("lists every trainable model and the baselines", () => {
    expect([...NEURAL_MODEL_NAMES].sort()).toEqual(["bert4rec", "caser", "gru4rec", "lrurec", "narm", "sasrec"]);
    expect(allModelNames()).toEqual(expect.arrayContaining(["pop", "cooc"]));
    expect(() => getNeuralModel("nope")).toThrow(/unknown model "nope"/);
  });

  it("every model's defaults and presets pass its own field schemas, and each declared schema refuses a bad value", () => {
    for (const name of NEURAL_MODEL_NAMES) {
      const def = getNeuralModel(name);
      for (const preset of ["none", ...Object.keys(def.presets)]) expect(resolveConfig(def, { preset }).preset).toBe(preset === "none" ? undefined : preset);
      for (const field of Object.keys(def.fieldSchemas ?? {})) {
        expect(field in def.defaults, `${name}.${field} has a schema but no default`).toBe(true);
        expect(() => resolveConfig(def, { preset: "none", config: { [field]: -1 }, source: "--set" }), `${name}.${field}`).toThrow(
          new RegExp(`field "${field}"`),
        );
      }
    }
  });

  it("the papers' validation: LlamaRec presets unmasked, LRURec-paper presets (ml-1m) masked, batch-mean selection; tests mask the window", () => {
    for (const name of ["lrurec", "sasrec", "bert4rec", "narm"]) {
      const def = getNeuralModel(name);
      expect(resolveConfig(def, { preset: "ml-latest-small" }).config.maskHistoryInValidation, name).toBe(false);
      expect(resolveConfig(def, { preset: "ml-1m" }).config.maskHistoryInValidation, name).toBe(true);
      expect(resolveConfig(def, { preset: "ml-1m" }).config.maskScope, name).toBe("window");
      expect(resolveConfig(def, { preset: "ml-latest-small" }).config.selectAverage, name).toBe("batches");
      expect(resolveConfig(def, { preset: "embedded" }).config.selectAverage, name).toBe("users");
    }
    expect(() => resolveConfig(getNeuralModel("lrurec"), { preset: "none", config: { maskScope: "all" } as never, source: "--set" })).toThrow(/field "maskScope"/);
  });

  it("LRURec's tuned dropout: the LRURec README's 0.6 on Amazon, 0.2 on MovieLens; --set still overrides a preset", () => {
    const lru = getNeuralModel("lrurec");
    for (const preset of ["beauty", "games"]) expect(resolveConfig(lru, { preset }).config, preset).toMatchObject({ dropout: 0.6, lruDropout: 0.6 });
    for (const preset of ["ml-latest-small", "ml-1m"]) expect(resolveConfig(lru, { preset }).config, preset).toMatchObject({ dropout: 0.2, lruDropout: 0.2 });
    expect(resolveConfig(lru, { preset: "beauty", config: { dropout: 0.2 }, source: "--set" }).config.dropout).toBe(0.2);
  });

  // Generated: every registered model goes through the real trainer for 2 steps and scores through its eval graph.
  for (const name of NEURAL_MODEL_NAMES) {
    it(`${name}: 2 training steps + full-ranking scores on the embedded dataset`, async () => {
      const def = getNeuralModel(name);
      const res = await trainModel(def, ds, {
        preset: "none",
        config: { maxLen: 8, hidden: 16, batchSize: 32, evalBatchSize: 512, validateEvery: 1 },
        threads: 1,
        maxSteps: 2,
        evalTest: false,
      });
      try {
        expect(res.steps).toBe(2);
        expect(res.validations.map((v) => v.step)).toEqual([0, 1, 2]);
        for (const v of res.validations.slice(1)) expect(Number.isFinite(v.loss)).toBe(true);
        const s = await res.recommender.scoreAll([ds.train[0], ds.train[1].subarray(0, 1)]);
        expect(s.length).toBe(2 * (ds.catalog.size + 1));
        expect(s.every((x) => Number.isFinite(x))).toBe(true);
        // different histories, different scores
        expect(s.subarray(1, ds.catalog.size + 1)).not.toEqual(s.subarray(ds.catalog.size + 2));
      } finally {
        res.recommender.dispose();
      }
    }, 60_000);
  }
});

describe("one registry", () => {
  it("holds the baselines and the six retrievers, each under its own name, and nothing else", () => {
    expect(allModelNames()).toEqual(["pop", "cooc", "lrurec", "sasrec", "gru4rec", "narm", "bert4rec", "caser"]);
    for (const [name, entry] of Object.entries(MODEL_REGISTRY)) expect(entry.name, name).toBe(name);
    for (const name of BASELINE_NAMES) expect(lookupModel(name)?.kind).toBe("baseline");
    for (const name of NEURAL_MODEL_NAMES) {
      const entry = lookupModel(name);
      expect(entry?.kind === "neural" && entry.definition).toBe(NEURAL_MODELS[name]);
      expect(entry?.kind === "neural" && entry.definition.name).toBe(name);
    }
    expect(lookupModel("lru")?.name).toBe("lrurec");
    expect(lookupModel("lstm")).toBeUndefined();
  });

  it("a baseline's name builds it for the split asked; a trainable name is not a baseline, nor a baseline trainable", async () => {
    // pop learns from the split's inputs: the validation items count for "test", not for "val"
    const item = ds.val[0];
    const users = ds.val.filter((v) => v === item).length;
    const count = async (split: "val" | "test") => (await createBaseline("pop", ds, { split }).scoreAll([ds.train[0]]))[item];
    expect(await count("test")).toBe((await count("val")) + users);
    expect(() => createBaseline("lrurec", ds)).toThrow(/unknown baseline "lrurec"; valid: pop, cooc/);
    expect(() => getNeuralModel("cooc")).toThrow(/unknown model "cooc" \(trainable: lrurec/);
  });
});
