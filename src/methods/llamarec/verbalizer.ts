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
import { LLAMAREC_PROMPT, type LlamaRecPromptOptions } from "./prompt.ts";
import { LlamaRecPrompter, type ChatRenderer, type LlamaRecPrompterOptions } from "./prompter.ts";

/** One LLM to rank with: a base GGUF, with a LoRA adapter for the fine-tuned ranker or without for zero-shot. */
export interface RankerSpec {
  name: string;
  llm: string;
  adapter?: string;
  /** Prompt layout (default "alpaca", the paper's). */
  layout?: "alpaca" | "chat";
  /** The prompt the adapter was fine-tuned with (a run's `prompt`); default LLAMAREC_PROMPT. */
  prompt?: LlamaRecPromptOptions;
  /** History items a prompt shows (a run's `maxHistory`); default LLAMAREC_MAX_HISTORY. */
  maxHistory?: number;
}

/** The model's chat template as a ChatRenderer (node-llama-cpp renders it). */
export function chatRenderer(model: LlamaModel): ChatRenderer {
  return { render: (user) => chatPromptTokens(model, user), endOfTurn: endOfTurnToken(model) };
}

export interface VerbalizerRankerOptions extends NextTokenScorerOptions, Omit<LlamaRecPrompterOptions, "chat"> {
  /** "alpaca" (the paper's prompt, default) or "chat" (the model's own chat template). */
  layout?: "alpaca" | "chat";
}

/**
 * The verbalizer of a ranker spec on its loaded base model: the prompt, history length and layout it was fine-tuned
 * with (the budget capped at the model's training context) and its adapter; `create` sizes the scorer's sequences to
 * that budget. Evaluation and serving both open rankers here, so they score exactly the prompts the adapter learned on.
 */
export function verbalizerForSpec(model: LlamaModel, catalog: Catalog, spec: RankerSpec, options: { parallel: number }): Promise<VerbalizerRanker> {
  const prompt = spec.prompt ?? LLAMAREC_PROMPT;
  const maxPromptTokens = Math.min(prompt.maxPromptTokens ?? LLAMAREC_PROMPT.maxPromptTokens, model.trainContextSize);
  return VerbalizerRanker.create(model, catalog, {
    name: spec.name,
    parallel: options.parallel,
    prompt: { ...prompt, maxPromptTokens },
    maxHistory: spec.maxHistory,
    layout: spec.layout,
    ...(spec.adapter ? { lora: { file: spec.adapter } } : {}),
  });
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
