import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore, type Builder } from "../../src/engine/index.ts";
import { llamaHidden, llamaOutputRowsInputs, llamaRowsPayOff, llamaSegmentMask, type LlamaModel } from "../../src/llm/llama.ts";
import { Rng } from "../../src/rng.ts";
import { declareRandomLlama, TINY_CONFIGS } from "../helpers/tiny-decoder.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

const B = 2;
const T = 13;
// Rows of both sequences, the first and last positions, and a repeated row (a padded micro-batch repeats row 0).
const ROWS = Int32Array.from([12, 3, T + 5, T + 12, 0, 0]);

describe.each(Object.entries(TINY_CONFIGS))("the last block at the output rows only (%s)", (name, config) => {
  const store = new ParamStore(engine);
  const lm = declareRandomLlama(store, config, 5, { lora: { rank: 2, alpha: 4, targets: ["q", "k", "v", "o", "gate", "up", "down"] } });
  store.initialize(new Rng(7));
  const r = new Rng(name.length + 1);
  for (const { b } of lm.params.lora.values()) store.write(b, Float32Array.from({ length: b.numel }, () => 0.3 * r.normal()));
  afterAll(() => store.dispose());
  const V = config.vocabSize;
  const tokens = Int32Array.from({ length: B * T }, () => r.int(0, V));
  const targets = Int32Array.from(ROWS, () => r.int(0, V));
  // Sequence 1 packs two segments (7 and 6 tokens) with restarting positions.
  const pos = Int32Array.from({ length: B * T }, (_, i) => (i < T ? i : (i - T) % 7));
  const segments = Array.from({ length: B * T }, (_, i) => (i < T ? 0 : i - T < 7 ? 1 : 2));
  const trainable = store.list().filter((p) => p.trainable);

  /** Hidden states at ROWS, a loss over them, and every trainable gradient. */
  function run(rowsOnly: boolean, masked: boolean) {
    const build = (b: Builder) => {
      const tok = b.input("tokens", [B, T], "i32");
      const p = b.input("pos", [B * T], "i32");
      const rows = b.input("rows", [ROWS.length], "i32");
      const mask = masked ? b.input("mask", [B, 1, T, T]) : undefined;
      let h;
      if (rowsOnly) {
        h = llamaHidden(b, lm as LlamaModel, tok, p, { mask, attentionBlock: 5, outputRows: { rows, positions: b.input("rowPos", [ROWS.length], "i32"), mask: b.input("rowMask", [ROWS.length, B * T]) } });
      } else {
        h = b.gatherRows(b.reshape(llamaHidden(b, lm as LlamaModel, tok, p, { mask, attentionBlock: 5 }), [B * T, config.dim]), rows);
      }
      const logits = b.linear(h, lm.params.output);
      return { loss: b.crossEntropy(logits, b.input("targets", [ROWS.length], "i32")), outputs: { h } };
    };
    const g = compile(engine, { mode: "grad", params: store, build });
    try {
      const rowData = llamaOutputRowsInputs(ROWS, B, T, pos, masked ? segments : undefined);
      const res = g.run({ tokens, pos, rows: ROWS, targets, ...(rowsOnly ? { rowPos: rowData.positions, rowMask: rowData.mask } : {}), ...(masked ? { mask: llamaSegmentMask(segments, B, T) } : {}) });
      return { loss: res.loss, h: g.read("h").slice(), grads: trainable.map((p) => g.grad(p).slice()) };
    } finally {
      g.dispose();
    }
  }
  const maxGap = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

  it.each([false, true])("give the whole window's hidden states, loss and gradients at those rows (segment mask: %s)", (masked) => {
    const whole = run(false, masked);
    const rows = run(true, masked);
    expect(rows.h.length).toBe(ROWS.length * config.dim);
    expect(maxGap(rows.h, whole.h)).toBeLessThan(1e-5);
    expect(Math.abs(rows.loss - whole.loss)).toBeLessThan(1e-5);
    rows.grads.forEach((g, i) => {
      expect(maxAbs(whole.grads[i])).toBeGreaterThan(1e-4);
      expect(maxGap(g, whole.grads[i])).toBeLessThan(1e-5 * Math.max(1, maxAbs(whole.grads[i])));
    });
  });

  it("a row sees its own sequence's keys up to itself, and its own segment's", () => {
    const { positions, mask } = llamaOutputRowsInputs([T + 9], B, T, pos, segments);
    expect(positions[0]).toBe(2); // second segment of sequence 1, restarted at T + 7
    const seen = [...mask].flatMap((m, k) => (m === 0 ? [k] : []));
    expect(seen).toEqual([T + 7, T + 8, T + 9]);
    expect(() => llamaOutputRowsInputs([B * T], B, T, pos)).toThrow(/row 26 is outside the 2×13 window/);
  });
});

describe("when the row path is used", () => {
  it("pays for a few rows per window, not for every labelled position", () => {
    expect(llamaRowsPayOff(32, 512)).toBe(true); // 12 answers of 2 tokens, rounded up
    expect(llamaRowsPayOff(8 * 512, 512)).toBe(false); // pretraining: every position
  });
});

describe("refuses outputRows inputs of the wrong shape", () => {
  const store = new ParamStore(engine);
  const lm = declareRandomLlama(store, TINY_CONFIGS.llama3, 5);
  store.initialize(new Rng(1));
  afterAll(() => store.dispose());
  it("names the mask's expected shape", () => {
    expect(() =>
      compile(engine, {
        mode: "eval",
        params: store,
        build: (b) => {
          const outputRows = { rows: b.input("rows", [3], "i32"), positions: b.input("rp", [3], "i32"), mask: b.input("rm", [3, T]) };
          return { outputs: { h: llamaHidden(b, lm, b.input("tokens", [B, T], "i32"), b.input("pos", [T], "i32"), { outputRows }) } };
        },
      }),
    ).toThrow(/outputRows.mask must be f32 \[3, 26\]/);
  });
});
