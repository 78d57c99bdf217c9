import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LlamaModel } from "node-llama-cpp";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { gguf } from "../../../src/llm/gguf-writer.ts";
import { llamaCppTokenizer } from "../../../src/llm/prompt.ts";
import { chatPromptTokens, loadLlamaCppModel } from "../../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../../src/llm/tiny-llama.ts";
import { bpeGgufMetadata, trainByteLevelBpe } from "../../../src/llm/tokenizer/index.ts";
import { openDecoder } from "../../../src/llm/train/decoder.ts";
import { DecoderGraphs } from "../../../src/llm/train/decoder-graphs.ts";
import { RankingExamples } from "../../../src/methods/llamarec/examples.ts";
import { LlamaRecPrompter } from "../../../src/methods/llamarec/prompter.ts";
import { LLAMAREC_PROMPT } from "../../../src/methods/llamarec/prompt.ts";
import { chatRenderer, VerbalizerRanker } from "../../../src/methods/llamarec/verbalizer.ts";
import { Rng } from "../../../src/rng.ts";

const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const dir = mkdtempSync(join(tmpdir(), "reclm-chat-"));
let ds: SequenceDataset;
let file: string;
let model: LlamaModel;
beforeAll(async () => {
  ds = await loadDataset("embedded");
  const texts = [...ds.catalog.items.slice(1).map((i) => i.title), "Given user history in chronological order, recommend an item from the candidate pool with its index letter.", "user assistant system"];
  const vocab = trainByteLevelBpe(texts, { vocabSize: 700, specialTokens: ["<|im_start|>", "<|im_end|>"] });
  file = join(dir, "chat.gguf");
  writeTinyLlamaGguf(file, { vocab: { tokens: vocab.tokens, metadata: { ...bpeGgufMetadata(vocab), "tokenizer.chat_template": gguf.str(CHATML) } }, dim: 32, layers: 1, contextLength: 2048, seed: 3 });
  model = await loadLlamaCppModel(file, { threads: 1 });
});
afterAll(async () => {
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("LlamaRec's prompt in the model's own chat template (--prompt chat)", () => {
  it("renders one user turn and the assistant's start, answers with the letter then end-of-turn, and the verbalizer on llama.cpp scores it as reclm's decoder does", async () => {
    const tok = llamaCppTokenizer(model);
    const imStart = tok.tokenize("<|im_start|>");
    const prompter = new LlamaRecPrompter(ds.catalog, tok, { chat: chatRenderer(model) });
    const ex = new RankingExamples(ds, { seed: 1 }).example(5);
    const tokens = prompter.promptTokens(ex.history, ex.candidates);
    const text = model.detokenize(tokens as never, true);
    expect(text).toMatch(/^(<\|bos\|>)?<\|im_start\|>user\nGiven user history in chronological order/); // BOS when the model asks for it
    expect(text).toMatch(/Candidate pool: \(A\) [^\n]+(\n[^\n]*)*<\|im_end\|>\n<\|im_start\|>assistant\n$/);
    expect(text).not.toMatch(/###/);
    expect(imStart).not.toEqual(tokens.slice(0, imStart.length)); // the marker is one control token, not its text
    const train = prompter.trainingExample(ex);
    expect(Array.from(train.tokens).slice(0, tokens.length)).toEqual(tokens);
    expect(Array.from(train.tokens).slice(-2)).toEqual([prompter.letters[ex.answer], Number(model.tokens.eot ?? model.tokens.eos)]);
    expect(Array.from(train.labelled!).slice(-3)).toEqual([0, 1, 1]);

    // over budget: the oldest history items go first, the candidates and the template stay
    const small = new LlamaRecPrompter(ds.catalog, tok, { chat: chatRenderer(model), prompt: { ...LLAMAREC_PROMPT, maxPromptTokens: tokens.length - 5 } });
    const cut = model.detokenize(small.promptTokens(ex.history, ex.candidates) as never, true);
    expect(cut.length).toBeLessThan(text.length);
    expect(cut).toMatch(/^(<\|bos\|>)?<\|im_start\|>user\n/);
    expect(cut).toContain("(T) ");
    expect(cut).not.toContain(`(1) ${ds.catalog.items[ex.history[0]].title}`);

    const ranker = await VerbalizerRanker.create(model, ds.catalog, { layout: "chat", parallel: 1, contextSize: 2048, kvCache: "f32" });
    const decoder = await openDecoder(file, { threads: 1 });
    const graphs = new DecoderGraphs({ engine: decoder.engine, store: decoder.store, model: decoder.model, dropoutRng: new Rng(0) });
    try {
      expect(ranker.promptTokens(ex.history, ex.candidates)).toEqual(tokens);
      const cpp = await ranker.rank(ex.history, ex.candidates);
      const [ours] = graphs.nextTokenLogits([tokens], prompter.letters, { batch: 1, lengthBucket: 32 });
      const shift = cpp[0] - ours[0];
      for (let j = 0; j < 20; j++) expect(Math.abs(cpp[j] - ours[j] - shift)).toBeLessThan(2e-4);
    } finally {
      graphs.dispose();
      decoder.dispose();
      await ranker.dispose();
    }
  });

  it("refuses the chat layout for a model without a chat template, naming the key", async () => {
    const plain = join(dir, "plain.gguf");
    writeTinyLlamaGguf(plain, { tokenizer: "bpe", dim: 16, layers: 1 });
    const m = await loadLlamaCppModel(plain, { threads: 1 });
    try {
      expect(() => chatPromptTokens(m, "hi")).toThrow(expect.objectContaining({ location: expect.objectContaining({ field: "tokenizer.chat_template" }) }));
    } finally {
      await m.dispose();
    }
  });
});
