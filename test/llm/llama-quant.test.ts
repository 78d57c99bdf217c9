import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdamW, compile, Engine, ParamStore, type Builder } from "../../src/engine/index.ts";
import { declareLlamaFromGguf, LLAMA_PROJECTIONS, llamaLogits, type LlamaModel } from "../../src/llm/llama.ts";
import { llamaCppNextTokenProbabilities, loadLlamaCppModel, readGgufHeader, type GgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { Rng } from "../../src/rng.ts";
import { decoderLogProbs } from "../helpers/decoder.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-llama-quant-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const B = 2, T = 10;

/** Next-token cross-entropy over a [B, T] batch (last position of each row ignored). */
function lmLoss(b: Builder, lm: LlamaModel) {
  const logits = llamaLogits(b, lm, b.input("tokens", [B, T], "i32"), b.input("pos", [T], "i32"));
  return b.crossEntropy(b.reshape(logits, [B * T, lm.config.vocabSize]), b.input("targets", [B * T], "i32"), { ignoreIndex: -1 });
}

function batch(V: number) {
  const r = new Rng(21);
  const tokens = Int32Array.from({ length: B * T }, () => r.int(3, V));
  const targets = Int32Array.from({ length: B * T }, (_, i) => ((i + 1) % T === 0 ? -1 : tokens[i + 1]));
  return { tokens, targets, pos: Int32Array.from({ length: T }, (_, i) => i) };
}

/** The model with LoRA on all seven projections, B factors set to the same nonzero values whatever the base. */
function declare(h: GgufHeader, file: string, baseWeights: "file" | "f32") {
  const store = new ParamStore(engine);
  const lm = declareLlamaFromGguf(store, h, file, { baseWeights, lora: { rank: 4, alpha: 8, targets: LLAMA_PROJECTIONS } });
  store.initialize(new Rng(3));
  const r = new Rng(4);
  for (const { b } of lm.params.lora.values()) store.write(b, Float32Array.from({ length: b.numel }, () => 0.1 * r.normal()));
  return { store, lm };
}

function loraGradients(store: ParamStore, lm: LlamaModel, inputs: ReturnType<typeof batch>): Float32Array {
  const g = compile(engine, { mode: "grad", params: store, build: (b) => ({ loss: lmLoss(b, lm) }) });
  g.run(inputs);
  const parts = [...lm.params.lora.values()].flatMap(({ a, b }) => [g.grad(a), g.grad(b)]);
  g.dispose();
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

const relErr = (a: Float32Array, b: Float32Array) => {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

describe.each([
  // dims are multiples of the block: 32 values for Q8_0, 256 for Q4_K's super-blocks
  { type: "q8_0" as const, ggmlType: 8, dim: 64, ffnDim: 128 },
  { type: "q4_K" as const, ggmlType: 12, dim: 256, ffnDim: 512 },
])("a $type model kept quantized in memory", ({ type, ggmlType, dim, ffnDim }) => {
  const file = join(dir, `${type}.gguf`);
  const config = writeTinyLlamaGguf(file, { dim, ffnDim, heads: 4, kvHeads: 2, layers: 2, weightType: type, std: 0.1, seed: 7 });

  it("trains LoRA with the gradients of the dequantized-F32 model, leaving its blocks untouched", async () => {
    const h = await readGgufHeader(file);
    const inputs = batch(config.vocabSize);
    const packed = declare(h, file, "file");
    const plain = declare(h, file, "f32");
    expect(packed.lm.params.layers[1].down.dtype).toBe(type);
    expect(packed.lm.params.tokenEmbedding.dtype).toBe(type);
    expect(plain.lm.params.layers[1].down.dtype).toBe("f32");
    const gPacked = loraGradients(packed.store, packed.lm, inputs);
    const gPlain = loraGradients(plain.store, plain.lm, inputs);
    // Both backward passes are the same ops (the gradient through a quantized W is OUT_PROD over its dequantized rows,
    // identical to F32's: test/engine/packed.test.ts). They differ only in the forward activations they start from:
    // the packed forward rounds every matmul's input to 8-bit blocks as llama.cpp does (Q8_0: one scale per 32
    // values; Q8_K for Q4_K: one per 256, coarser), ~6e-3 relative per matmul, compounded through 2 blocks of 7
    // matmuls and the head, and a LoRA gradient is a product of a forward activation and a backward signal. Measured
    // (relative L2 over every LoRA gradient): Q8_0 1.6e-2, Q4_K 5.7e-2; another model's gradients are 1.3 and 1.5 off.
    const gap = relErr(gPacked, gPlain);
    expect(gap).toBeLessThan(0.1);
    // ...while gradients of another model (other B factors) are nowhere near: the check can tell
    const otherB = declare(h, file, "f32");
    const r = new Rng(99);
    for (const { b } of otherB.lm.params.lora.values()) otherB.store.write(b, Float32Array.from({ length: b.numel }, () => 0.1 * r.normal()));
    expect(relErr(loraGradients(otherB.store, otherB.lm, inputs), gPlain)).toBeGreaterThan(0.3);

    // a few AdamW steps on the quantized model: the loss falls, the quantized blocks stay as read
    const before = packed.store.readDequantized(packed.lm.params.layers[0].q);
    const opt = new AdamW(packed.store, { lr: 1e-2 });
    const train = compile(engine, { mode: "train", params: packed.store, optimizer: opt, build: (b) => ({ loss: lmLoss(b, packed.lm) }) });
    const losses = Array.from({ length: 5 }, () => train.run(inputs).loss);
    expect(losses[4]).toBeLessThan(losses[0]);
    expect(Array.from(packed.store.readDequantized(packed.lm.params.layers[0].q))).toEqual(Array.from(before));
    train.dispose();
    opt.dispose();
    for (const s of [packed.store, plain.store, otherB.store]) s.dispose();
  }, 60_000);

  it("its forward equals llama.cpp's on the same file", async () => {
    const h = await readGgufHeader(file);
    expect(h.tensors.find((t) => t.name === "blk.0.ffn_down.weight")!.ggmlType).toBe(ggmlType);
    const store = new ParamStore(engine);
    const lm = declareLlamaFromGguf(store, h, file);
    store.initialize(new Rng(0));
    const r = new Rng(8);
    const tokens = [1, ...Array.from({ length: 19 }, () => r.int(3, config.vocabSize))];
    const ours = decoderLogProbs(engine, store, lm, tokens).map((row) => row.map(Math.exp));
    store.dispose();
    const cpp = await loadLlamaCppModel(file);
    try {
      const ref = await llamaCppNextTokenProbabilities(cpp, tokens, config.vocabSize);
      let gap = 0;
      ref.forEach((row, t) => row.forEach((p, i) => (gap = Math.max(gap, Math.abs(p - ours[t][i])))));
      // gguf-writer.test.ts's tolerance for quantized models; measured Q8_0 3.1e-8, Q4_K 2.3e-4 (llama.cpp repacks
      // Q4_K for its CPU kernels, which sum in another order)
      expect(gap).toBeLessThan(8e-3);
    } finally {
      await cpp.dispose();
    }
  }, 60_000);
});

describe("base weights of a type ggml cannot keep, and trainBase", () => {
  it("names the tensor and the way out", async () => {
    const file = join(dir, "f16.gguf");
    writeTinyLlamaGguf(file, { weightType: "f16", layers: 1 });
    const h = await readGgufHeader(file);
    // an F16 file claiming BF16 for one matrix (type id 30): ggml's CPU OUT_PROD aborts on BF16
    const bf = { ...h, tensors: h.tensors.map((t) => (t.name === "blk.0.ffn_up.weight" ? { ...t, ggmlType: 30 } : t)) };
    expect(() => declareLlamaFromGguf(new ParamStore(engine), bf, file)).toThrow(/tensor "blk\.0\.ffn_up\.weight" is bf16, which ggml cannot multiply.*baseWeights: "f32"/);
    expect(() => declareLlamaFromGguf(new ParamStore(engine), h, file, { trainBase: true, baseWeights: "file" })).toThrow(/trainBase needs F32 base weights/);
    const store = new ParamStore(engine);
    const lm = declareLlamaFromGguf(store, h, file, { trainBase: true });
    expect(lm.params.layers[0].q.dtype).toBe("f32");
    expect(lm.params.layers[0].q.trainable).toBe(true);
    store.dispose();
  });
});
