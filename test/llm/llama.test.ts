import { afterAll, describe, expect, it } from "vitest";
import { AdamW, compile, Engine, ParamStore, type Builder } from "../../src/engine/index.ts";
import { declareLlama, declareLlamaFromGguf, llamaDecode, llamaEmbed, llamaLogits, type LlamaConfig, type LlamaModel } from "../../src/llm/llama.ts";
import { llamaCppNextTokenProbabilities, loadLlamaCppModel, readGgufHeader } from "../../src/llm/runtime.ts";
import { Rng } from "../../src/rng.ts";
import { describeWithShared } from "../helpers/shared.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

/** Next-token cross-entropy of the decoder over one sequence (targets = tokens shifted left, last ignored). */
function lmLoss(b: Builder, lm: LlamaModel, T: number) {
  const logits = llamaLogits(b, lm, b.input("tokens", [1, T], "i32"), b.input("pos", [T], "i32"));
  return b.crossEntropy(b.reshape(logits, [T, lm.config.vocabSize]), b.input("targets", [T], "i32"), { ignoreIndex: -1 });
}

function lmInputs(tokens: number[]) {
  const T = tokens.length;
  return {
    tokens: Int32Array.from(tokens),
    pos: Int32Array.from({ length: T }, (_, i) => i),
    targets: Int32Array.from({ length: T }, (_, i) => (i + 1 < T ? tokens[i + 1] : -1)),
  };
}

describe("llama decoder + LoRA on the engine (random tiny weights)", () => {
  const config: LlamaConfig = { architecture: "llama", ropeMode: "normal", freqScale: 1, ropeFreqs: false, biases: [], vocabSize: 11, dim: 8, layers: 2, heads: 2, kvHeads: 1, headDim: 4, ffnDim: 12, rmsEps: 1e-5, ropeBase: 10000, ropeDims: 4, tiedOutput: false };
  const rng = new Rng(5);
  const weights = new Map<string, Float32Array>();
  const source = (name: string, shape: readonly number[]) => {
    let w = weights.get(name);
    if (!w) {
      const n = shape.reduce((a, b) => a * b, 1);
      w = Float32Array.from({ length: n }, () => (name.includes("norm") ? 1 + 0.1 * rng.normal() : 0.4 * rng.normal()));
      weights.set(name, w);
    }
    return w;
  };
  const tokens = [1, 4, 7, 2, 9, 9, 3];

  it("LoRA gradients (all seven projections, GQA) match finite differences; base weights get none", () => {
    const store = new ParamStore(engine);
    const lm = declareLlama(store, config, source, { lora: { rank: 2, alpha: 4, targets: ["q", "k", "v", "o", "gate", "up", "down"] } });
    store.initialize(new Rng(1));
    // B starts at 0 (PEFT), which would make every A gradient 0: give B values so both factors are checked.
    const r = new Rng(2);
    for (const { b } of lm.params.lora.values()) store.write(b, Float32Array.from({ length: b.numel }, () => 0.3 * r.normal()));
    const T = tokens.length;
    const grad = compile(engine, { mode: "grad", params: store, build: (b) => ({ loss: lmLoss(b, lm, T) }) });
    const evalLoss = compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { loss: lmLoss(b, lm, T) } }) });
    const inputs = lmInputs(tokens);
    grad.run(inputs);
    expect(store.list().filter((p) => p.trainable).every((p) => p.name.startsWith("lora."))).toBe(true);
    const f = () => {
      evalLoss.run(inputs);
      return evalLoss.read("loss")[0];
    };
    const eps = 1e-2;
    let worst = 0;
    for (const { a, b } of lm.params.lora.values()) {
      for (const p of [a, b]) {
        const g = grad.grad(p);
        const v = store.read(p);
        for (const i of [0, Math.floor(p.numel / 2), p.numel - 1]) {
          const keep = v[i];
          v[i] = keep + eps;
          store.write(p, v);
          const up = f();
          v[i] = keep - eps;
          store.write(p, v);
          const down = f();
          v[i] = keep;
          store.write(p, v);
          const fd = (up - down) / (2 * eps);
          worst = Math.max(worst, Math.abs(fd - g[i]) / Math.max(1e-2, Math.abs(fd)));
        }
      }
    }
    expect(worst).toBeLessThan(2e-2);
    grad.dispose();
    evalLoss.dispose();
    store.dispose();
  });

  it("decodes input embeddings: token embeddings give the token path's logits; a projected vector in a slot trains", () => {
    const store = new ParamStore(engine);
    const lm = declareLlama(store, config, source, { lora: { rank: 2, alpha: 4, targets: ["q", "v"] } });
    // LLaRA's shape: a small projector maps an item vector (here 3-d) to one input embedding of the decoder
    const projector = store.add("projector.weight", [config.dim, 3], { init: { kind: "normal", std: 0.5 } });
    store.initialize(new Rng(1));
    const T = tokens.length, slot = 3;
    const build = (b: Builder) => {
      const ids = b.input("tokens", [1, T], "i32");
      const pos = b.input("pos", [T], "i32");
      const embedded = llamaEmbed(b, lm, ids); // [1, T, D]
      const item = b.reshape(b.linear(b.input("item", [1, 3]), projector), [1, 1, config.dim]);
      const mixed = b.concat([b.slice(embedded, 1, 0, slot), item, b.slice(embedded, 1, slot + 1, T - slot - 1)], 1);
      const logits = b.reshape(b.linear(llamaDecode(b, lm, mixed, pos), lm.params.output), [T, config.vocabSize]);
      const loss = b.crossEntropy(logits, b.input("targets", [T], "i32"), { ignoreIndex: -1 });
      return { loss, outputs: { loss, viaEmbeddings: b.linear(llamaDecode(b, lm, embedded, pos), lm.params.output), viaTokens: llamaLogits(b, lm, ids, pos) } };
    };
    const inputs = { ...lmInputs(tokens), item: Float32Array.from([0.3, -1.2, 0.8]) };
    const evalGraph = compile(engine, { mode: "eval", params: store, build });
    evalGraph.run(inputs);
    expect(Array.from(evalGraph.read("viaEmbeddings"))).toEqual(Array.from(evalGraph.read("viaTokens")));
    const grad = compile(engine, { mode: "grad", params: store, build });
    grad.run(inputs);
    const g = grad.grad(projector);
    const w = store.read(projector);
    const loss = () => (evalGraph.run(inputs), evalGraph.read("loss")[0]);
    const eps = 1e-2;
    let worst = 0;
    for (const i of [0, 7, w.length - 1]) {
      const keep = w[i];
      store.write(projector, (w[i] = keep + eps, w));
      const up = loss();
      store.write(projector, (w[i] = keep - eps, w));
      const down = loss();
      store.write(projector, (w[i] = keep, w));
      const fd = (up - down) / (2 * eps);
      worst = Math.max(worst, Math.abs(fd - g[i]) / Math.max(1e-2, Math.abs(fd)));
    }
    expect(Math.max(...Array.from(g, Math.abs))).toBeGreaterThan(0);
    expect(worst).toBeLessThan(2e-2);
    expect(() => compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { h: llamaDecode(b, lm, b.input("x", [1, T, 5]), b.input("pos", [T], "i32")) } }) })).toThrow(
      /input embeddings must be \[B, T, 8\]/,
    );
    grad.dispose();
    evalGraph.dispose();
    store.dispose();
  });

  it("refuses a bad LoRA target or rank with the field named", () => {
    const store = new ParamStore(engine);
    expect(() => declareLlama(store, config, source, { lora: { rank: 2, alpha: 4, targets: ["qq" as never] } })).toThrow(/LoRA target "qq"/);
    store.dispose();
    const store2 = new ParamStore(engine);
    expect(() => declareLlama(store2, config, source, { lora: { rank: 0, alpha: 4, targets: ["q"] } })).toThrow(/rank/);
    store2.dispose();
  });
});

describeWithShared("llama decoder vs llama.cpp on real weights (stories260K)", ["models", "stories260K", "stories260K.gguf"], (file) => {
  const text = "Once upon a time, there was a little girl named Lily. She loved to play";

  it("gives llama.cpp's next-token distribution at every position (F32 KV cache there), and LoRA starts as a no-op", async () => {
    const header = await readGgufHeader(file);
    const cpp = await loadLlamaCppModel(file, { threads: 1 });
    try {
      const tokens = [1, ...cpp.tokenize(text, false).map(Number)]; // BOS + text
      const T = tokens.length;
      const store = new ParamStore(engine);
      const lm = declareLlamaFromGguf(store, header, file, { lora: { rank: 8, alpha: 32, targets: ["q", "v"] } });
      store.initialize(new Rng(3));
      expect(lm.config).toMatchObject({ vocabSize: 512, dim: 64, layers: 5, heads: 8, kvHeads: 4, headDim: 8, ffnDim: 172 });
      const g = compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { logits: llamaLogits(b, lm, b.input("tokens", [1, T], "i32"), b.input("pos", [T], "i32")) } }) });
      g.run({ tokens: Int32Array.from(tokens), pos: Int32Array.from({ length: T }, (_, i) => i) });
      const logits = g.read("logits");
      const ref = await llamaCppNextTokenProbabilities(cpp, tokens, 512);
      let maxDiff = 0;
      for (let t = 0; t < T; t++) {
        const row = logits.subarray(t * 512, (t + 1) * 512);
        const m = Math.max(...row);
        let z = 0;
        for (const v of row) z += Math.exp(v - m);
        for (let i = 0; i < 512; i++) maxDiff = Math.max(maxDiff, Math.abs(Math.exp(row[i] - m) / z - ref[t][i]));
        expect(row.indexOf(m)).toBe(ref[t].indexOf(Math.max(...ref[t])));
      }
      expect(maxDiff).toBeLessThan(2e-5); // measured 1.3e-6
      g.dispose();
      store.dispose();
    } finally {
      await cpp.dispose();
    }
  }, 60_000);

  it("LoRA fine-tuning (q, v; base frozen) lowers the loss on a text and leaves the base weights untouched", async () => {
    const header = await readGgufHeader(file);
    const cpp = await loadLlamaCppModel(file, { threads: 1 });
    const tokens = [1, ...cpp.tokenize("The purple robot sang to the quiet moon every night.", false).map(Number)];
    await cpp.dispose();
    const T = tokens.length;
    const store = new ParamStore(engine);
    const lm = declareLlamaFromGguf(store, header, file, { lora: { rank: 8, alpha: 32, targets: ["q", "v"], dropout: 0.05 } });
    store.initialize(new Rng(4));
    const before = store.read("blk.0.attn_q.weight");
    const opt = new AdamW(store, { lr: 1e-2 });
    const train = compile(engine, { mode: "train", params: store, optimizer: opt, rng: new Rng(6), build: (b) => ({ loss: lmLoss(b, lm, T) }) });
    const losses: number[] = [];
    for (let s = 0; s < 30; s++) losses.push(train.run(lmInputs(tokens)).loss);
    expect(losses[29]).toBeLessThan(0.5 * losses[0]);
    expect(store.read("blk.0.attn_q.weight")).toEqual(before);
    train.dispose();
    opt.dispose();
    store.dispose();
  }, 60_000);
});
