import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { RankingExamples } from "../../../src/methods/llamarec/examples.ts";
import { exportLlamaRecExamples } from "../../../src/methods/llamarec/export.ts";
import { indexLetter, llamarecPromptText } from "../../../src/methods/llamarec/prompt.ts";
import { sampleIndices } from "../../../src/methods/llamarec/finetune.ts";

// The row schemas the trainers document (llm-interop.md §4): TRL prompt-completion and conversational rows, axolotl
// input_output (template-free) and chat_template rows.
const trlPromptCompletion = z.object({ prompt: z.string().min(1), completion: z.string().min(1) }).strict();
const message = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }).strict();
const conversational = z.object({ messages: z.array(message).min(2) }).strict();
const axolotlInputOutput = z.object({ segments: z.array(z.object({ label: z.boolean(), text: z.string() }).strict()).min(1) }).strict();

let ds: SequenceDataset;
beforeAll(async () => {
  ds = await loadDataset("embedded");
});

describe("exporting LlamaRec's examples for TRL and axolotl", () => {
  it("writes the same examples the built-in fine-tuning trains on, in each trainer's documented layout", () => {
    const all = new RankingExamples(ds, { seed: 7 });
    const picked = sampleIndices(all.length, 20, 7 ^ 0x5eed);
    const title = (i: number) => ds.catalog.items[i].title;
    const trl = [...exportLlamaRecExamples(ds, { format: "trl", seed: 7, maxExamples: 20 }).rows];
    const ax = [...exportLlamaRecExamples(ds, { format: "axolotl", seed: 7, maxExamples: 20, eosText: "<|eos|>" }).rows];
    const chat = [...exportLlamaRecExamples(ds, { format: "trl", chat: true, seed: 7, maxExamples: 20 }).rows];
    expect(trl).toHaveLength(20);
    picked.forEach((idx, j) => {
      const ex = all.example(idx);
      const prompt = llamarecPromptText(Array.from(ex.history, title), Array.from(ex.candidates, title));
      const letter = indexLetter(ex.answer);
      const t = trlPromptCompletion.parse(trl[j]);
      expect(t).toEqual({ prompt, completion: letter });
      const a = axolotlInputOutput.parse(ax[j]);
      expect(a.segments).toEqual([{ label: false, text: prompt }, { label: true, text: `${letter}<|eos|>` }]);
      const c = conversational.parse(chat[j]);
      expect(c.messages[1]).toEqual({ role: "assistant", content: letter });
      expect(c.messages[0].content).not.toMatch(/###/);
      expect(c.messages[0].content).toContain("Candidate pool: (A) ");
    });
  });

  it("writes ready-made examples (the retriever's candidates) in their given letter order", () => {
    const title = (i: number) => ds.catalog.items[i].title;
    const examples = [
      { user: 0, history: Int32Array.from([1, 2]), candidates: Int32Array.from([5, 3, 9]), answer: 1 },
      { user: 1, history: Int32Array.from([4]), candidates: Int32Array.from([7, 8]), answer: 0 },
    ];
    const out = exportLlamaRecExamples(ds, { format: "trl", seed: 7, examples: { examples, total: 99 } });
    expect([out.count, out.total]).toEqual([2, 99]);
    const rows = [...out.rows].map((r) => trlPromptCompletion.parse(r));
    expect(rows[0]).toEqual({ prompt: llamarecPromptText([1, 2].map(title), [5, 3, 9].map(title)), completion: "B" });
    expect(rows[1]).toEqual({ prompt: llamarecPromptText([4].map(title), [7, 8].map(title)), completion: "A" });
  });

  it("refuses an unknown format, naming the field", () => {
    expect(() => exportLlamaRecExamples(ds, { format: "peft" as "trl", seed: 1 })).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_CONFIG", location: { field: "format" } }));
  });
});
