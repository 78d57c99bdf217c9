import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore, type Builder } from "../../src/engine/index.ts";
import { llamaAttentionBlocks, llamaLogits, llamaSegmentMask, type LlamaModel } from "../../src/llm/llama.ts";
import { Rng } from "../../src/rng.ts";
import { declareRandomLlama, TINY_CONFIGS } from "../helpers/tiny-decoder.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

const B = 2;
const T = 13;

/** Weighted next-token loss of every position of a [B, T] batch (the trainer's loss, all rows labelled). */
function loss(b: Builder, lm: LlamaModel, block: number, masked: boolean) {
  const mask = masked ? b.input("mask", [B, 1, T, T]) : undefined;
  const logits = llamaLogits(b, lm, b.input("tokens", [B, T], "i32"), b.input("pos", [B * T], "i32"), { mask, attentionBlock: block });
  return { logits, loss: b.crossEntropy(b.reshape(logits, [B * T, lm.config.vocabSize]), b.input("targets", [B * T], "i32"), { ignoreIndex: -1 }) };
}

describe.each(Object.entries(TINY_CONFIGS))("attention in query blocks (%s)", (name, config) => {
  const store = new ParamStore(engine);
  const lm = declareRandomLlama(store, config, 11, { lora: { rank: 2, alpha: 4, targets: ["q", "k", "v", "o"] } });
  store.initialize(new Rng(3));
  // PEFT's B = 0 would make every A gradient 0: give B values so the adapters' gradients are all checked.
  const r = new Rng(name.length);
  for (const { b } of lm.params.lora.values()) store.write(b, Float32Array.from({ length: b.numel }, () => 0.3 * r.normal()));
  afterAll(() => store.dispose());
  const V = config.vocabSize;
  const tokens = Int32Array.from({ length: B * T }, () => r.int(0, V));
  // Row 0: positions 0..12; row 1: two packed sequences (7 and 6 tokens) with restarting positions and a segment mask.
  const pos = Int32Array.from({ length: B * T }, (_, i) => (i < T ? i : (i - T) % 7));
  const segments = Array.from({ length: B * T }, (_, i) => (i < T ? 0 : i - T < 7 ? 1 : 2));
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? -1 : tokens[i + 1]));
  const trainable = store.list().filter((p) => p.trainable);

  /** Logits, loss and every trainable gradient of one graph whose attention runs in blocks of `block` queries. */
  function run(block: number, masked: boolean) {
    const g = compile(engine, { mode: "grad", params: store, build: (b) => { const o = loss(b, lm, block, masked); return { loss: o.loss, outputs: { logits: o.logits } }; } });
    try {
      const res = g.run({ tokens, pos, targets, ...(masked ? { mask: llamaSegmentMask(segments, B, T) } : {}) });
      return { loss: res.loss, logits: g.read("logits").slice(), grads: trainable.map((p) => g.grad(p).slice()) };
    } finally {
      g.dispose();
    }
  }
  const maxGap = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

  it.each([
    [4, false],
    [5, true],
    [1, true],
  ])("blocks of %i queries (mask: %s) give the whole window's logits, loss and LoRA gradients", (block, masked) => {
    expect(llamaAttentionBlocks(T, block)).toBeGreaterThan(1);
    const whole = run(T, masked);
    const blocked = run(block, masked);
    expect(Math.abs(blocked.loss - whole.loss)).toBeLessThan(1e-5);
    expect(maxGap(blocked.logits, whole.logits)).toBeLessThan(1e-5);
    blocked.grads.forEach((g, i) => {
      expect(maxAbs(whole.grads[i])).toBeGreaterThan(1e-4);
      expect(maxGap(g, whole.grads[i])).toBeLessThan(1e-5 * Math.max(1, maxAbs(whole.grads[i])));
    });
  });

  it("refuses a block size that is not a positive integer", () => {
    expect(() => run(0, false)).toThrow(/attentionBlock must be a positive integer/);
  });
});
