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
import { truncateToTokens } from "../../llm/prompt.ts";
import { encodeLlamaRecPrompt, encodeLlamaRecTrainingExample, indexLetter, LLAMAREC_CANDIDATES, LLAMAREC_MAX_HISTORY, LLAMAREC_PROMPT, letterTokens, llamarecPromptText, type LlamaRecPromptOptions } from "./prompt.ts";

/** The letters' tokens at the start of an assistant turn: each letter alone must be one token, all distinct. */
function chatLetterTokens(tok: PromptTokenizer): number[] {
  const out = Array.from({ length: LLAMAREC_CANDIDATES }, (_, i) => {
    const t = tok.tokenize(indexLetter(i));
    if (t.length !== 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the tokenizer splits the index letter "${indexLetter(i)}" into ${t.length} tokens; the verbalizer needs one per letter`, { field: "tokenizer" });
    return t[0];
  });
  if (new Set(out).size !== out.length) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "two index letters share one token: the verbalizer could not tell them apart", { field: "tokenizer" });
  return out;
}

/** An instruct model's own chat template (src/llm/runtime.ts chatPromptTokens), for `--prompt chat`. */
export interface ChatRenderer {
  /** A user message -> the tokens up to the start of the assistant's answer. */
  render(userText: string): number[];
  /** Ends the assistant's turn in a training example (the template's end-of-turn token). */
  endOfTurn: number;
}

export interface LlamaRecPrompterOptions {
  prompt?: LlamaRecPromptOptions;
  /** History items shown (default 20). */
  maxHistory?: number;
  /**
   * Prompt layout: the paper's short Alpaca text (default), or the same instruction and lists as one user message in
   * the model's chat template, answered by the letter at the start of the assistant's turn. A chat prompt over budget
   * drops its oldest history items (cutting the rendered template on the left would cut its role markers).
   */
  chat?: ChatRenderer;
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
    this.chat = options.chat;
    this.letters = this.chat ? chatLetterTokens(tokenizer) : letterTokens(tokenizer, LLAMAREC_CANDIDATES);
  }

  readonly chat?: ChatRenderer;

  get layout(): "alpaca" | "chat" {
    return this.chat ? "chat" : "alpaca";
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
    const titles = this.titles(history, candidates);
    return this.chat ? this.chatPrompt(titles, this.chat) : encodeLlamaRecPrompt(titles, this.tokenizer, this.prompt).tokens;
  }

  /** A fine-tuning example: the prompt, the answer letter and EOS (end of turn), the loss on those two tokens only. */
  trainingExample(ex: RankingExample): LmExample {
    const titles = this.titles(ex.history, ex.candidates);
    let tokens: number[];
    let labelledCount: number;
    if (this.chat) {
      tokens = [...this.chatPrompt(titles, this.chat, 2), this.letters[ex.answer], this.chat.endOfTurn];
      labelledCount = 2;
    } else {
      const enc = encodeLlamaRecTrainingExample({ ...titles, answer: ex.answer }, this.tokenizer, this.prompt);
      tokens = enc.tokens;
      labelledCount = enc.labelled;
    }
    const labelled = new Uint8Array(tokens.length);
    labelled.fill(1, tokens.length - labelledCount);
    return { tokens, labelled };
  }

  /** The instruction and lists as one user message in the chat template, oldest history dropped until it fits. */
  private chatPrompt(titles: { history: string[]; candidates: string[] }, chat: ChatRenderer, reserve = 0): number[] {
    const cut = (t: string) => truncateToTokens(t, this.tokenizer, this.prompt.maxTitleTokens);
    const candidates = titles.candidates.map(cut);
    let history = titles.history.map(cut);
    for (;;) {
      const text = llamarecPromptText(history, candidates, this.prompt);
      const user = text.replace(/^### Instruction:\n/, "").replace("\n\n### Input:\n", "\n\n").replace(/\n\n### Response:\n$/, "");
      const tokens = chat.render(user);
      if (tokens.length + reserve <= this.prompt.maxPromptTokens) return tokens;
      if (history.length === 0) {
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the chat prompt of 20 candidates alone takes ${tokens.length} tokens, over the budget of ${this.prompt.maxPromptTokens}`, { field: "maxPromptTokens" });
      }
      history = history.slice(1);
    }
  }
}
