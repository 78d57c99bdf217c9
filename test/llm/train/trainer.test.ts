import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../../src/engine/index.ts";
import { declareLlama, type LlamaConfig, type LoraOptions } from "../../../src/llm/llama.ts";
import { exampleArray, packStep, type LmExample } from "../../../src/llm/train/batches.ts";
import { heldOutLoss, LLM_TRAIN_DEFAULTS, trainLlm, type LlmTrainConfig, type TrainableDecoder } from "../../../src/llm/train/trainer.ts";
import { Rng } from "../../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-llm-train-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const config: LlamaConfig = { architecture: "llama", ropeMode: "normal", freqScale: 1, ropeFreqs: false, biases: [], vocabSize: 13, dim: 16, layers: 2, heads: 2, kvHeads: 1, headDim: 8, ffnDim: 24, rmsEps: 1e-5, ropeBase: 10000, ropeDims: 8, tiedOutput: false };

function decoder(lora?: LoraOptions, seed = 1): TrainableDecoder {
  const rng = new Rng(77); // the same base weights for every decoder of a test
  const store = new ParamStore(engine);
  const model = declareLlama(
    store,
    config,
    (name, shape) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (name.includes("norm") ? 1 : 0.3 * rng.normal())),
    { lora, trainBase: !lora },
  );
  store.initialize(new Rng(seed));
  return { engine, store, model, maxLength: 64 };
}

/** Sequences with a rule (each token is the previous + 1 mod 10, answer after a separator) and varying lengths. */
function examples(n: number, seed: number, answerOnly: boolean): LmExample[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => {
    const len = r.int(3, 12);
    const start = r.int(0, 10);
    const tokens = [11, ...Array.from({ length: len }, (_, i) => (start + i) % 10), 12, (start + len) % 10];
    const labelled = answerOnly ? tokens.map((_, i) => (i === tokens.length - 1 ? 1 : 0)) : undefined;
    return { tokens, labelled };
  });
}

const base: LlmTrainConfig = { ...LLM_TRAIN_DEFAULTS, lr: 3e-2, batchSize: 8, microBatch: 8, epochs: 3, validateEvery: 5, patience: 100, lengthBucket: 8, seed: 3, clipNorm: 1 };

describe("packStep", () => {
  it("right-pads each micro-batch to a bucketed length, labels the predicting positions, weights 1/labelled tokens of the step", () => {
    const exs: LmExample[] = [{ tokens: [1, 2, 3] }, { tokens: [4, 5, 6, 7, 8, 9, 10], labelled: [0, 0, 0, 0, 0, 1, 1] }, { tokens: [1, 2] }];
    const [a, b] = packStep(exs, { microBatch: 2, lengthBucket: 4, maxLength: 16, vocabSize: 13 });
    // sorted by length: [1,2] and [1,2,3] first, then the 7-token one alone
    expect(a.T).toBe(4);
    expect(Array.from(a.tokens)).toEqual([1, 2, 0, 0, 1, 2, 3, 0]);
    expect(a.labelled).toBe(3);
    expect(Array.from(a.rowIndex.subarray(0, 3))).toEqual([0, 4, 5]);
    expect(Array.from(a.targets.subarray(0, 3))).toEqual([2, 2, 3]);
    expect(b.T).toBe(8);
    expect(Array.from(b.rowIndex.subarray(0, 2))).toEqual([4, 5]);
    expect(Array.from(b.targets.subarray(0, 2))).toEqual([9, 10]);
    const all = [...a.weights, ...b.weights].filter((w) => w > 0);
    expect(all).toHaveLength(5);
    for (const w of all) expect(w).toBeCloseTo(1 / 5, 7);
  });

  it("refuses tokens outside the vocabulary, over-long sequences and a labelled first token, naming the example", () => {
    const o = { microBatch: 2, lengthBucket: 4, maxLength: 5, vocabSize: 13 };
    expect(() => packStep([{ tokens: [1, 99] }], o)).toThrow(/example 0: token 99 at position 1/);
    expect(() => packStep([{ tokens: [1, 2] }, { tokens: [1, 2, 3, 4, 5, 6] }], o)).toThrow(/example 1: 6 tokens exceed the model's context of 5/);
    expect(() => packStep([{ tokens: [1, 2], labelled: [1, 1] }], o)).toThrow(/first token cannot be a target/);
  });
});

describe("trainLlm", () => {
  it("LoRA fine-tuning on the answer token only lowers the held-out loss and keeps the best adapter", async () => {
    const d = decoder({ rank: 8, alpha: 16, targets: ["q", "k", "v", "o", "gate", "up", "down"], dropout: 0 });
    const train = exampleArray(examples(64, 1, true));
    const held = exampleArray(examples(32, 2, true));
    const baseParams = d.store.list().filter((p) => !p.trainable).map((p) => d.store.read(p));
    const losses: number[] = [];
    const res = await trainLlm({
      decoder: d,
      examples: train,
      config: { ...base, lr: 1e-2, epochs: 20, validateEvery: 20 },
      name: "test lora",
      selectMetric: "neg_loss",
      checkpointParams: "trainable",
      validate: async (graphs) => {
        const loss = heldOutLoss(graphs, held, d, { microBatch: 8, lengthBucket: 8 });
        losses.push(loss);
        return { metrics: { loss, neg_loss: -loss }, value: -loss };
      },
    });
    expect(losses[0]).toBeGreaterThan(1.5); // ~log 13 at a random start
    expect(Math.min(...losses)).toBeLessThan(losses[0] * 0.35);
    expect(res.best.value).toBeCloseTo(-Math.min(...losses), 6);
    expect(res.stoppedBy).toBe("epochs");
    expect(res.tokensPerSecond).toBeGreaterThan(0);
    const frozen = d.store.list().filter((p) => !p.trainable).map((p) => d.store.read(p));
    frozen.forEach((f, i) => expect(f).toEqual(baseParams[i]));
    d.store.dispose();
  });

  it("micro-batches with gradient accumulation train exactly like whole batches", async () => {
    const run = async (microBatch: number) => {
      const d = decoder({ rank: 2, alpha: 4, targets: ["q", "k", "v", "o"], dropout: 0 });
      await trainLlm({
        decoder: d,
        examples: exampleArray(examples(32, 5, false)),
        config: { ...base, microBatch, epochs: 1, validateEvery: 0 },
        name: "accumulate",
        selectMetric: "x",
        checkpointParams: "trainable",
        validate: async () => ({ metrics: { x: 0 }, value: 0 }),
      });
      const out = d.store.list().filter((p) => p.trainable).map((p) => d.store.read(p));
      d.store.dispose();
      return out;
    };
    const whole = await run(8);
    const micro = await run(2);
    whole.forEach((w, i) => w.forEach((v, j) => expect(micro[i][j]).toBeCloseTo(v, 5)));
    expect(whole.some((w) => w.some((v) => v !== 0))).toBe(true);
  });

  it("a run cut after a validation and resumed ends with the parameters of an uninterrupted run (dropout on)", async () => {
    const cfg = { ...base, batchSize: 4, microBatch: 2, epochs: 2, validateEvery: 4 };
    const exs = exampleArray(examples(24, 9, false));
    let validations = 0;
    const run = async (runDir: string, maxSteps?: number, resume?: boolean, trainBase = false) => {
      const d = trainBase ? decoder(undefined, 4) : decoder({ rank: 2, alpha: 4, targets: ["q", "v", "down"], dropout: 0.2 }, 4);
      const res = await trainLlm({
        decoder: d,
        examples: exs,
        config: cfg,
        name: "resume",
        selectMetric: "x",
        checkpointParams: trainBase ? "all" : "trainable",
        runDir,
        resume,
        maxSteps,
        // a metric that keeps improving across all runs, so "best" is always the latest parameters
        validate: async () => ({ metrics: { x: ++validations }, value: validations }),
      });
      const out = d.store.list().filter((p) => p.trainable).map((p) => d.store.read(p));
      d.store.dispose();
      return { out, steps: res.state.step, throughput: res.state.throughput, tokensPerSecond: res.tokensPerSecond };
    };
    for (const trainBase of [false, true]) {
      const straight = await run(join(dir, `straight-${trainBase}`), undefined, false, trainBase);
      const cut = join(dir, `cut-${trainBase}`);
      const first = await run(cut, 4, false, trainBase);
      expect(first.steps).toBe(4);
      expect(readdirSync(cut)).toContain("checkpoint.safetensors");
      const resumed = await run(cut, undefined, true, trainBase);
      expect(resumed.steps).toBe(straight.steps);
      straight.out.forEach((w, i) => expect(resumed.out[i]).toEqual(w));
      // rates are the whole run's: the resumed invocation's steps plus the ones before the cut
      expect(resumed.throughput?.steps).toBe(straight.steps);
      expect(resumed.throughput?.counts.tokens).toBe(straight.throughput?.counts.tokens);
      expect(resumed.throughput!.seconds).toBeGreaterThan(0);
      expect(resumed.tokensPerSecond).toBeGreaterThan(0);
      // a finished run resumed again trains nothing and still reports them
      const again = await run(cut, undefined, true, trainBase);
      expect(again.throughput?.steps).toBe(straight.steps);
      expect(again.tokensPerSecond).toBeCloseTo(resumed.tokensPerSecond!, 6);
    }
    expect(existsSync(join(dir, "cut-false", "training.svg"))).toBe(true);
  });

  it("refuses a batch size that micro-batches do not divide, naming the field", async () => {
    const d = decoder({ rank: 2, alpha: 4, targets: ["q"] });
    await expect(
      trainLlm({ decoder: d, examples: exampleArray(examples(4, 1, false)), config: { ...base, batchSize: 6, microBatch: 4 }, name: "x", selectMetric: "x", checkpointParams: "trainable", validate: async () => ({ metrics: {}, value: 0 }) }),
    ).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG", location: { field: "batchSize" } });
    d.store.dispose();
  });
});
