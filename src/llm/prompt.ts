/**
 * What prompt building needs from a tokenizer, and the two budgets every prompt of the LLM methods keeps: a text cut
 * to N tokens (item titles), and a prompt cut on the LEFT to fit the context (Hugging Face's truncation_side =
 * "left": the instruction at the start goes first, the end the model answers after stays). Method-specific layouts
 * (lettered candidates, title lists, item slots) live in src/methods.
 */
import type { LlamaModel } from "node-llama-cpp";
import { ReclmError } from "../errors.ts";

/** What prompt building needs from a model's tokenizer. */
export interface PromptTokenizer {
  /** Token ids of `text` as it appears inside a longer text: no BOS/EOS, special-token text kept as plain text. */
  tokenize(text: string): number[];
  detokenize(tokens: readonly number[]): string;
  /** Put before every prompt (and never truncated away) when the model expects it; null when it does not. */
  readonly bos: number | null;
  /** Ends a training example. */
  readonly eos: number;
}

/** alpaca-lora's "alpaca_short" template. */
export function alpacaShortPrompt(instruction: string, input: string): string {
  return `### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`;
}

/**
 * The first `maxTokens` tokens of a text, as text (tokenize, keep, detokenize). A text
 * that fits is returned as it is; a cut one loses the leading space SentencePiece tokenizers put before the first word.
 */
export function truncateToTokens(text: string, tok: PromptTokenizer, maxTokens: number): string {
  const tokens = tok.tokenize(text);
  if (tokens.length <= maxTokens) return text;
  const cut = tok.detokenize(tokens.slice(0, maxTokens));
  return /^\s/.test(text) ? cut : cut.replace(/^ /, "");
}

/** A prompt as token ids, BOS first, cut on the left to the budget. */
export interface EncodedPrompt {
  tokens: number[];
  /** Prompt tokens dropped from the left to fit the budget. */
  truncated: number;
}

/** BOS + the last tokens of `text` that fit `maxTokens` in all (the tokenizer's truncation_side = "left"). */
export function encodeTruncatedLeft(text: string, tok: PromptTokenizer, maxTokens: number): EncodedPrompt {
  const body = tok.tokenize(text);
  const room = maxTokens - (tok.bos === null ? 0 : 1);
  if (room < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `a prompt budget of ${maxTokens} tokens leaves no room for text`, { field: "maxPromptTokens" });
  const truncated = Math.max(0, body.length - room);
  const kept = truncated > 0 ? body.slice(truncated) : body;
  return { tokens: tok.bos === null ? kept : [tok.bos, ...kept], truncated };
}

/** node-llama-cpp's tokenizer of a loaded GGUF as a PromptTokenizer. */
export function llamaCppTokenizer(model: LlamaModel): PromptTokenizer {
  const eos = model.tokens.eos;
  if (eos === null) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the model defines no end-of-sequence token; training examples need one", { field: "model" });
  const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
  return {
    tokenize: (text) => model.tokenize(text, false).map(Number),
    detokenize: (tokens) => model.detokenize(tokens as never, false),
    bos: bos === null ? null : Number(bos),
    eos: Number(eos),
  };
}
