import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../../src/engine/index.ts";
import { llamaRowsPayOff } from "../../../src/llm/llama.ts";
import { packStep } from "../../../src/llm/train/batches.ts";
import { DecoderGraphs } from "../../../src/llm/train/decoder-graphs.ts";
import { Rng } from "../../../src/rng.ts";
import { declareRandomLlama, TINY_CONFIGS } from "../../helpers/tiny-decoder.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

describe("DecoderGraphs with and without the last block's row path", () => {
  const config = TINY_CONFIGS.llama3;
  const store = new ParamStore(engine);
  const model = declareRandomLlama(store, config, 3, { lora: { rank: 2, alpha: 4, targets: ["q", "v"] } });
  store.initialize(new Rng(4));
  afterAll(() => store.dispose());
  const r = new Rng(5);
  // Answer-only labels (the last 2 tokens) on 40-token sequences: 8 rows against T = 40, the row path's case.
  const examples = [37, 40].map((n) => {
    const labelled = new Uint8Array(n).fill(1, n - 2);
    return { tokens: Int32Array.from({ length: n }, () => r.int(0, config.vocabSize)), labelled };
  });
  const batches = packStep(examples, { microBatch: 2, lengthBucket: 8, maxLength: 64, vocabSize: config.vocabSize });
  const graphs = (rowPath: boolean) => new DecoderGraphs({ engine, store, model, dropoutRng: new Rng(1), rowPath });

  it("give the same eval loss and row logits", () => {
    expect(llamaRowsPayOff(batches[0].rows, batches[0].T)).toBe(true);
    const on = graphs(true);
    const off = graphs(false);
    try {
      expect(Math.abs(on.evalLoss(batches) - off.evalLoss(batches))).toBeLessThan(1e-5);
      const prompts = examples.map((e) => Array.from(e.tokens));
      const a = on.nextTokenLogits(prompts, [0, 5, 7], { batch: 2, lengthBucket: 8 });
      const b = off.nextTokenLogits(prompts, [0, 5, 7], { batch: 2, lengthBucket: 8 });
      a.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThan(1e-5)));
    } finally {
      on.dispose();
      off.dispose();
    }
  });
});
