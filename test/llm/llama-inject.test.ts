import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore } from "../../src/engine/index.ts";
import { llamaDecode, llamaEmbed, llamaEmbedWithInjections, llamaHidden, llamaInjectionIndex } from "../../src/llm/llama.ts";
import { Rng } from "../../src/rng.ts";
import { gradCheck } from "../engine/gradcheck.ts";
import { declareRandomLlama, TINY_CONFIGS } from "../helpers/tiny-decoder.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

const config = TINY_CONFIGS.llama3;
const D = config.dim;
const B = 2, T = 7;
// row 0 gets vectors at t = 3 and 5, row 1 at t = 2
const injectAt = [3, 5, T + 2];
const r = new Rng(4);
const tokens = Int32Array.from({ length: B * T }, () => r.int(1, config.vocabSize));
const inputs = { tokens, from: llamaInjectionIndex(B, T, injectAt), pos: Int32Array.from({ length: T }, (_, i) => i) };

describe("input embeddings with injected vectors (LLaRA's item slots)", () => {
  it("only the injected positions change: their rows are the vectors, earlier hidden states are bit-identical", () => {
    const store = new ParamStore(engine);
    const lm = declareRandomLlama(store, config, 2);
    const vectors = store.add("slots", [injectAt.length, D], { init: { kind: "normal", std: 1 } });
    store.initialize(new Rng(1));
    const g = compile(engine, {
      mode: "eval",
      params: store,
      build: (b) => {
        const ids = b.input("tokens", [B, T], "i32");
        const pos = b.input("pos", [T], "i32");
        const x = llamaEmbedWithInjections(b, lm, ids, b.input("from", [B, T], "i32"), vectors);
        return { outputs: { x, plainX: llamaEmbed(b, lm, ids), h: llamaDecode(b, lm, x, pos), plainH: llamaHidden(b, lm, ids, pos) } };
      },
    });
    g.run(inputs);
    const [x, plainX, h, plainH] = ["x", "plainX", "h", "plainH"].map((k) => g.read(k));
    const v = store.read(vectors);
    const row = (a: Float32Array, i: number) => Array.from(a.subarray(i * D, (i + 1) * D));
    for (let i = 0; i < B * T; i++) {
      const j = injectAt.indexOf(i);
      expect(row(x, i)).toEqual(j >= 0 ? row(v, j) : row(plainX, i));
    }
    // causal attention: a position before a row's first injection sees only tokens, so its hidden state is unchanged
    const firstInjected = [3, 2];
    let changedAfter = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        if (t < firstInjected[b]) expect(row(h, i)).toEqual(row(plainH, i));
        else changedAfter = Math.max(changedAfter, ...row(h, i).map((y, k) => Math.abs(y - plainH[i * D + k])));
      }
    }
    expect(changedAfter).toBeGreaterThan(1e-2);
    g.dispose();
    store.dispose();
  });

  it("gradients reach the injected vectors (central finite differences through the whole decoder)", () => {
    const store = new ParamStore(engine);
    const lm = declareRandomLlama(store, config, 2);
    store.initialize(new Rng(1));
    const res = gradCheck(engine, {
      params: { vectors: [injectAt.length, D] },
      inputs,
      eps: 1e-2,
      op: (b, p) => {
        const x = llamaEmbedWithInjections(b, lm, b.input("tokens", [B, T], "i32"), b.input("from", [B, T], "i32"), p.vectors);
        return llamaDecode(b, lm, x, b.input("pos", [T], "i32"));
      },
    });
    // measured 1.4e-3: the difference's truncation error at eps 1e-2 (a smaller eps lets f32 rounding dominate)
    expect(res.maxRelErr, res.worst).toBeLessThan(3e-3);
    store.dispose();
  });

  it("refuses two vectors for one position, a position outside the batch, and mismatched shapes", () => {
    expect(() => llamaInjectionIndex(B, T, [3, 3])).toThrow(/injected vectors 0 and 1 both go to position 3/);
    expect(() => llamaInjectionIndex(B, T, [B * T])).toThrow(/position 14, outside the 2×7 batch/);
    const store = new ParamStore(engine);
    const lm = declareRandomLlama(store, config, 2);
    store.initialize(new Rng(1));
    const build = (fromShape: number[], vShape: number[]) => () =>
      compile(engine, {
        mode: "eval",
        params: store,
        build: (b) => ({ outputs: { x: llamaEmbedWithInjections(b, lm, b.input("t", [B, T], "i32"), b.input("f", fromShape, "i32"), b.input("v", vShape)) } }),
      });
    expect(build([B * T], [3, D])).toThrow(/injectFrom must be i32 \[2,7\] like the tokens/);
    expect(build([B, T], [3, D + 1])).toThrow(/injected vectors must be \[n, 16\]/);
    store.dispose();
  });
});
