import { describe, expect, it } from "vitest";
import { canonicalModelName, getNeuralModel, isNeuralModelName } from "../../src/models/registry.ts";

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
