/**
 * LlamaRec's fine-tuning examples as JSONL for the trainers teams use on GPU clusters (llm-interop.md §4), so the
 * ranker can be trained there and served here (`reclm eval/recommend --lora adapter.gguf` after llama.cpp's
 * convert_lora_to_gguf.py):
 *
 * - TRL SFTTrainer, prompt-completion: {"prompt": <the LlamaRec prompt>, "completion": <the letter>} — TRL trains on
 *   the completion only and appends EOS, which is LlamaRec's loss (letter + EOS). With `chat`: the conversational
 *   form {"messages": [{"role": "user", ...}, {"role": "assistant", "content": <letter>}]} for an instruct model's
 *   chat template (loss on the assistant turn with assistant_only_loss).
 * - axolotl, template-free `input_output`: {"segments": [{"label": false, "text": <prompt>}, {"label": true, "text":
 *   <letter><eos>}]} — the exact prompt and labels of the paper; with `chat`: `chat_template` rows {"messages": ...}.
 *
 * Examples are the same every-prefix, 19-negative, seeded draws the built-in fine-tuning uses (examples.ts), or the
 * examples with the retriever's candidates it uses under `trainCandidates` (retrieved-examples.ts), given ready-made.
 */
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import type { PromptTokenizer } from "../../llm/prompt.ts";
import { RankingExamples, type RankingExample } from "./examples.ts";
import { sampleIndices } from "./finetune.ts";
import { indexLetter, LLAMAREC_CANDIDATES, LLAMAREC_MAX_HISTORY, LLAMAREC_PROMPT, promptTextWithCutTitles } from "./prompt.ts";

export type ExportFormat = "trl" | "axolotl";

export interface ExportOptions {
  format: ExportFormat;
  /** Conversational rows (a chat template applies them) instead of the paper's plain Alpaca prompt. */
  chat?: boolean;
  seed: number;
  /** A seeded sample of the examples; 0 = all. */
  maxExamples?: number;
  /** Cuts every title to 32 tokens of this tokenizer (the paper's llm_max_title_len); none: titles as they are. */
  tokenizer?: PromptTokenizer;
  /** The model's end-of-sequence text, for axolotl's labelled segment (default "</s>"). */
  eosText?: string;
  /**
   * Ready-made examples of `total` training prefixes (scanRetrievedExamples: the retriever's candidates) instead of
   * the paper's uniform draws; `seed` and `maxExamples` then played their part when they were made.
   */
  examples?: { examples: readonly RankingExample[]; total: number };
}

export interface ExportedRows {
  rows: Iterable<Record<string, unknown>>;
  count: number;
  total: number;
}

export function exportLlamaRecExamples(ds: SequenceDataset, o: ExportOptions): ExportedRows {
  if (o.format !== "trl" && o.format !== "axolotl") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown export format "${o.format}" (trl, axolotl)`, { field: "format" });
  let source: { count: number; total: number; example: (j: number) => RankingExample };
  if (o.examples) {
    const { examples, total } = o.examples;
    source = { count: examples.length, total, example: (j) => examples[j] };
  } else {
    const all = new RankingExamples(ds, { seed: o.seed, maxHistory: LLAMAREC_MAX_HISTORY, candidates: LLAMAREC_CANDIDATES });
    const chosen = sampleIndices(all.length, o.maxExamples ?? 0, o.seed ^ 0x5eed);
    source = { count: chosen.length, total: all.length, example: (j) => all.example(chosen[j]) };
  }
  const title = (i: number) => ds.catalog.items[i].title;
  const eos = o.eosText ?? "</s>";
  function* rows(): Iterable<Record<string, unknown>> {
    for (let j = 0; j < source.count; j++) {
      const ex = source.example(j);
      const prompt = promptTextWithCutTitles({ history: Array.from(ex.history, title), candidates: Array.from(ex.candidates, title) }, o.tokenizer, LLAMAREC_PROMPT);
      const letter = indexLetter(ex.answer);
      const messages = [
        { role: "user", content: prompt.replace(/^### Instruction:\n/, "").replace("\n\n### Input:\n", "\n\n").replace(/\n\n### Response:\n$/, "") },
        { role: "assistant", content: letter },
      ];
      if (o.format === "trl") yield o.chat ? { messages } : { prompt, completion: letter };
      else yield o.chat ? { messages } : { segments: [{ label: false, text: prompt }, { label: true, text: `${letter}${eos}` }] };
    }
  }
  return { rows: rows(), count: source.count, total: source.total };
}
