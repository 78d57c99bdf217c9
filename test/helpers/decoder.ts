import { compile, type Engine, type ParamStore } from "../../src/engine/index.ts";
import { llamaLogits, type LlamaModel } from "../../src/llm/llama.ts";

/** reclm's decoder over one sequence: log-softmax rows [T][V] (positions 0..T-1), for parity checks. */
export function decoderLogProbs(engine: Engine, store: ParamStore, lm: LlamaModel, tokens: readonly number[]): Float64Array[] {
  const T = tokens.length;
  const V = lm.config.vocabSize;
  const g = compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { logits: llamaLogits(b, lm, b.input("tokens", [1, T], "i32"), b.input("pos", [T], "i32")) } }) });
  try {
    g.run({ tokens: Int32Array.from(tokens), pos: Int32Array.from({ length: T }, (_, i) => i) });
    const logits = g.read("logits");
    return Array.from({ length: T }, (_, t) => {
      const row = logits.subarray(t * V, (t + 1) * V);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((z, v) => z + Math.exp(v - m), 0));
      return Float64Array.from(row, (v) => v - lse);
    });
  } finally {
    g.dispose();
  }
}
