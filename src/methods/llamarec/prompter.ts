/**
 * LlamaRec's prompts for one catalog and one tokenizer: item ids in, token ids out. The verbalizer (scoring), the
 * fine-tuning examples (training) and the validation during fine-tuning all build their prompts here, so the model is
 * scored on exactly the layout it was trained on.
 */
import type { Catalog } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import type { PromptTokenizer } from "../../llm/prompt.ts";
import type { LmExample } from "../../llm/train/batches.ts";
import type { RankingExample } from "./examples.ts";
import { encodeLlamaRecPrompt, encodeLlamaRecTrainingExample, LLAMAREC_CANDIDATES, LLAMAREC_MAX_HISTORY, LLAMAREC_PROMPT, letterTokens, type LlamaRecPromptOptions } from "./prompt.ts";

export interface LlamaRecPrompterOptions {
  prompt?: LlamaRecPromptOptions;
  /** History items shown (default 20). */
  maxHistory?: number;
}

export class LlamaRecPrompter {
  readonly prompt: LlamaRecPromptOptions;
  readonly maxHistory: number;
  /** The verbalizer's label words: the token of each index letter after the response header. */
  readonly letters: readonly number[];

  constructor(
    readonly catalog: Catalog,
    readonly tokenizer: PromptTokenizer,
    options: LlamaRecPrompterOptions = {},
  ) {
    this.prompt = options.prompt ?? LLAMAREC_PROMPT;
    this.maxHistory = options.maxHistory ?? LLAMAREC_MAX_HISTORY;
    if (!Number.isInteger(this.maxHistory) || this.maxHistory < 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxHistory must be a positive integer, got ${this.maxHistory}`, { field: "maxHistory" });
    }
    this.letters = letterTokens(tokenizer, LLAMAREC_CANDIDATES);
  }

  private title(i: number): string {
    if (!Number.isInteger(i) || i < 1 || i > this.catalog.size) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `item ${i} is not in the catalogue (1..${this.catalog.size})`, { field: "items" });
    return this.catalog.items[i].title;
  }

  private titles(history: ArrayLike<number>, candidates: ArrayLike<number>): { history: string[]; candidates: string[] } {
    if (candidates.length === 0 || candidates.length > this.letters.length) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the verbalizer ranks 1..${this.letters.length} candidates, got ${candidates.length}`, { field: "candidates" });
    }
    const shown = Array.from(history).slice(Math.max(0, history.length - this.maxHistory));
    return { history: shown.map((i) => this.title(i)), candidates: Array.from(candidates, (i) => this.title(i)) };
  }

  /** The scored prompt: the verbalizer reads the letters' logits after its last token. */
  promptTokens(history: ArrayLike<number>, candidates: ArrayLike<number>): number[] {
    return encodeLlamaRecPrompt(this.titles(history, candidates), this.tokenizer, this.prompt).tokens;
  }

  /** A fine-tuning example: the prompt, the answer letter and EOS, the loss on those two tokens only. */
  trainingExample(ex: RankingExample): LmExample {
    const enc = encodeLlamaRecTrainingExample({ ...this.titles(ex.history, ex.candidates), answer: ex.answer }, this.tokenizer, this.prompt);
    const labelled = new Uint8Array(enc.tokens.length);
    labelled.fill(1, enc.tokens.length - enc.labelled);
    return { tokens: enc.tokens, labelled };
  }
}
