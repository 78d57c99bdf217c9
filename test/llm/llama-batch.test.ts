import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore } from "../../src/engine/index.ts";
import { llamaLogits, llamaSegmentMask, type LlamaModel } from "../../src/llm/llama.ts";
import { Rng } from "../../src/rng.ts";
import { declareRandomLlama, TINY_CONFIGS } from "../helpers/tiny-decoder.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

/** Logits [B·T·V] of one graph over a batch: positions [T] or [B·T], an optional segment mask. */
function logits(store: ParamStore, lm: LlamaModel, tokens: number[], B: number, positions: number[], segments?: number[]): Float32Array {
  const T = tokens.length / B;
  const g = compile(engine, {
    mode: "eval",
    params: store,
    build: (b) => {
      const mask = segments ? b.input("mask", [B, 1, T, T]) : undefined;
      return { outputs: { logits: llamaLogits(b, lm, b.input("tokens", [B, T], "i32"), b.input("pos", [positions.length], "i32"), { mask }) } };
    },
  });
  try {
    g.run({ tokens: Int32Array.from(tokens), pos: Int32Array.from(positions), ...(segments ? { mask: llamaSegmentMask(segments, B, T) } : {}) });
    return g.read("logits");
  } finally {
    g.dispose();
  }
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** Max |a - b| between row `rowA` of batch a and row `rowB` of batch b over `n` positions starting at `fromA`/`fromB`. */
function gap(a: Float32Array, Ta: number, rowA: number, fromA: number, b: Float32Array, Tb: number, rowB: number, fromB: number, n: number, V: number): number {
  let worst = 0;
  for (let t = 0; t < n; t++) {
    for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(a[((rowA * Ta) + fromA + t) * V + v] - b[((rowB * Tb) + fromB + t) * V + v]));
  }
  return worst;
}

describe.each(Object.entries(TINY_CONFIGS))("one position per token (%s)", (name, config) => {
  const store = new ParamStore(engine);
  const lm = declareRandomLlama(store, config, 3);
  store.initialize(new Rng(0));
  afterAll(() => store.dispose());
  const V = config.vocabSize;
  const r = new Rng(name === "qwen2" ? 7 : 8);
  const seq = (n: number) => range(n).map(() => r.int(1, V));

  it("a right-padded batch of lengths 5, 9, 2 gives every real position the logits of its sequence run alone", () => {
    const seqs = [seq(5), seq(9), seq(2)];
    const T = 9;
    // Padding: token 0 at position 0, as a collate function would fill it; per-token positions restart in each row.
    const tokens = seqs.flatMap((s) => [...s, ...new Array<number>(T - s.length).fill(0)]);
    const positions = seqs.flatMap((s) => [...range(s.length), ...new Array<number>(T - s.length).fill(0)]);
    const batch = logits(store, lm, tokens, 3, positions);
    seqs.forEach((s, row) => {
      const alone = logits(store, lm, s, 1, range(s.length));
      expect(gap(batch, T, row, 0, alone, s.length, 0, 0, s.length, V)).toBeLessThan(1e-5);
    });
  });

  it("positions need not start at 0 nor be contiguous; packed sequences with a segment mask equal each run alone", () => {
    // row 0: one sequence at offset positions with a gap; row 1: two sequences packed, positions restarting at 0
    const a = seq(6), p = seq(4), q = seq(2);
    const offsetPositions = [7, 8, 9, 12, 13, 14];
    const tokens = [...a, ...p, ...q];
    const positions = [...offsetPositions, ...range(4), ...range(2)];
    const segments = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
    const batch = logits(store, lm, tokens, 2, positions, segments);
    const alone = (s: number[], pos: number[]) => logits(store, lm, s, 1, pos);
    expect(gap(batch, 6, 0, 0, alone(a, offsetPositions), 6, 0, 0, 6, V)).toBeLessThan(1e-5);
    expect(gap(batch, 6, 1, 0, alone(p, range(4)), 4, 0, 0, 4, V)).toBeLessThan(1e-5);
    expect(gap(batch, 6, 1, 4, alone(q, range(2)), 2, 0, 0, 2, V)).toBeLessThan(1e-5);
    // the positions are used: the same tokens at contiguous positions give other logits
    expect(gap(alone(a, offsetPositions), 6, 0, 0, alone(a, range(6, 7)), 6, 0, 0, 6, V)).toBeGreaterThan(1e-3);
  });
});

describe("llamaDecode's position and mask shapes", () => {
  it("refuses positions that are neither [T] nor [B·T], and a mask of another shape, naming them", () => {
    const store = new ParamStore(engine);
    const lm = declareRandomLlama(store, TINY_CONFIGS.qwen2, 1);
    store.initialize(new Rng(0));
    const build = (n: number, maskShape?: number[]) => () =>
      compile(engine, {
        mode: "eval",
        params: store,
        build: (b) => ({ outputs: { l: llamaLogits(b, lm, b.input("t", [2, 3], "i32"), b.input("p", [n], "i32"), { mask: maskShape && b.input("m", maskShape) }) } }),
      });
    expect(build(4)).toThrow(/positions must be i32 \[3\] or \[6\] \(one per token\), got i32\[4\]/);
    expect(build(6, [2, 2, 3, 3])).toThrow(/attention mask must be \[2 or 1, 1, 3, 3\], got \[2,2,3,3\]/);
    expect(() => llamaSegmentMask([0, 0, 1], 2, 2)).toThrow(/3 segment ids for 2×2 tokens/);
    store.dispose();
  });
});
