/**
 * LlamaRec's verbalizer ranker (anchors.md §1.2): the user's last 20 titles and the candidates' titles go into the
 * ranking prompt, the LLM runs ONE forward pass over it, and each candidate's score is the logit of its index letter at
 * the last position. No generation. Scores here are log-probabilities, which differ from the logits by one constant per
 * prompt: the ranking is the same. Runs on llama.cpp (any GGUF node-llama-cpp loads).
 */
import type { LlamaModel } from "node-llama-cpp";
import type { Catalog, Ranker } from "../../contracts.ts";
import { llamaCppTokenizer } from "../../llm/prompt.ts";
import { NextTokenScorer, type NextTokenScorerOptions } from "../../llm/scorer.ts";
import { chatPromptTokens, endOfTurnToken } from "../../llm/runtime.ts";
import { LlamaRecPrompter, type ChatRenderer, type LlamaRecPrompterOptions } from "./prompter.ts";

/** The model's chat template as a ChatRenderer (node-llama-cpp renders it). */
export function chatRenderer(model: LlamaModel): ChatRenderer {
  return { render: (user) => chatPromptTokens(model, user), endOfTurn: endOfTurnToken(model) };
}

export interface VerbalizerRankerOptions extends NextTokenScorerOptions, Omit<LlamaRecPrompterOptions, "chat"> {
  /** "alpaca" (the paper's prompt, default) or "chat" (the model's own chat template). */
  layout?: "alpaca" | "chat";
}

export class VerbalizerRanker implements Ranker {
  readonly name: string;

  private constructor(
    readonly prompter: LlamaRecPrompter,
    private readonly scorer: NextTokenScorer,
    name: string,
  ) {
    this.name = name;
  }

  /** A ranker over `model` (any GGUF node-llama-cpp loads); the letter tokens are resolved from its tokenizer. */
  static async create(model: LlamaModel, catalog: Catalog, options: VerbalizerRankerOptions & { name?: string } = {}): Promise<VerbalizerRanker> {
    const prompter = new LlamaRecPrompter(catalog, llamaCppTokenizer(model), { ...options, chat: options.layout === "chat" ? chatRenderer(model) : undefined });
    const scorer = await NextTokenScorer.create(model, { ...options, contextSize: options.contextSize ?? prompter.prompt.maxPromptTokens });
    return new VerbalizerRanker(prompter, scorer, options.name ?? "llamarec-verbalizer");
  }

  /** The scored prompt of one user, as token ids (for inspection, and what `rank` evaluates). */
  promptTokens(history: Int32Array, candidates: Int32Array): number[] {
    return this.prompter.promptTokens(history, candidates);
  }

  async rank(history: Int32Array, candidates: Int32Array): Promise<Float32Array> {
    return Float32Array.from(await this.scorer.scorePrompt(this.promptTokens(history, candidates), this.prompter.letters.slice(0, candidates.length)));
  }

  /** Many users at once: prompts spread over the scorer's parallel sequences. */
  async rankMany(requests: readonly { history: Int32Array; candidates: Int32Array }[]): Promise<Float32Array[]> {
    const n = Math.max(0, ...requests.map((r) => r.candidates.length));
    const prompts = requests.map((r) => this.promptTokens(r.history, r.candidates));
    const all = await this.scorer.score(prompts, this.prompter.letters.slice(0, n));
    return all.map((s, i) => Float32Array.from(s.subarray(0, requests[i].candidates.length)));
  }

  /** True once `dispose()` freed the scorer's context. */
  get disposed(): boolean {
    return this.scorer.disposed;
  }

  async dispose(): Promise<void> {
    await this.scorer.dispose();
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
