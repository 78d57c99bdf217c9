/**
 * LlamaRec's verbalizer ranker (anchors.md §1.2): the user's last 20 titles and the candidates' titles go into the
 * ranking prompt, the LLM runs ONE forward pass over it, and each candidate's score is the logit of its index letter at
 * the last position. No generation. Scores here are log-probabilities, which differ from the logits by one constant
 * per prompt: the ranking is the same.
 */
import type { LlamaModel } from "node-llama-cpp";
import type { Catalog, Ranker } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { encodeLlamaRecPrompt, LLAMAREC_MAX_HISTORY, LLAMAREC_PROMPT, letterTokens, llamaCppTokenizer, type LlamaRecPromptOptions, type PromptTokenizer } from "./prompts.ts";
import { NextTokenScorer, type NextTokenScorerOptions } from "./scorer.ts";

export interface VerbalizerRankerOptions extends NextTokenScorerOptions {
  prompt?: LlamaRecPromptOptions;
  /** History items shown (default 20). */
  maxHistory?: number;
}

export class VerbalizerRanker implements Ranker {
  readonly name: string;

  private constructor(
    private readonly catalog: Catalog,
    private readonly tokenizer: PromptTokenizer,
    private readonly letters: readonly number[],
    private readonly scorer: NextTokenScorer,
    private readonly prompt: LlamaRecPromptOptions,
    private readonly maxHistory: number,
    name: string,
  ) {
    this.name = name;
  }

  /** A ranker over `model` (any GGUF node-llama-cpp loads); the letter tokens are resolved from its tokenizer. */
  static async create(model: LlamaModel, catalog: Catalog, options: VerbalizerRankerOptions & { name?: string } = {}): Promise<VerbalizerRanker> {
    const prompt = options.prompt ?? LLAMAREC_PROMPT;
    const maxHistory = options.maxHistory ?? LLAMAREC_MAX_HISTORY;
    if (!Number.isInteger(maxHistory) || maxHistory < 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxHistory must be a positive integer, got ${maxHistory}`, { field: "maxHistory" });
    }
    const tokenizer = llamaCppTokenizer(model);
    const letters = letterTokens(tokenizer);
    // The scorer reads its own fields (threads, parallel, lora, ...) and ignores the ranker's.
    const scorer = await NextTokenScorer.create(model, { ...options, contextSize: options.contextSize ?? prompt.maxPromptTokens });
    return new VerbalizerRanker(catalog, tokenizer, letters, scorer, prompt, maxHistory, options.name ?? "llamarec-verbalizer");
  }

  /** The scored prompt of one user, as token ids (for inspection, and what `rank` evaluates). */
  promptTokens(history: Int32Array, candidates: Int32Array): number[] {
    if (candidates.length === 0 || candidates.length > this.letters.length) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the verbalizer ranks 1..${this.letters.length} candidates, got ${candidates.length}`, { field: "candidates" });
    }
    const title = (i: number) => {
      if (!Number.isInteger(i) || i < 1 || i > this.catalog.size) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `item ${i} is not in the catalogue (1..${this.catalog.size})`, { field: "items" });
      return this.catalog.items[i].title;
    };
    const shown = history.subarray(Math.max(0, history.length - this.maxHistory));
    return encodeLlamaRecPrompt({ history: Array.from(shown, title), candidates: Array.from(candidates, title) }, this.tokenizer, this.prompt).tokens;
  }

  async rank(history: Int32Array, candidates: Int32Array): Promise<Float32Array> {
    return Float32Array.from(await this.scorer.scorePrompt(this.promptTokens(history, candidates), this.letters.slice(0, candidates.length)));
  }

  async dispose(): Promise<void> {
    await this.scorer.dispose();
  }
}
