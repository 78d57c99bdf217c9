/**
 * LlamaRec's ranking prompt (anchors.md §1.1-§1.2; the authors' dataloader/llm.py and config.py): the short Alpaca
 * layout, the history as "(1) title" lines, the 20 candidates as "(A) title" .. "(T) title" lines, every title cut to
 * 32 tokens, the whole prompt cut to 1536 tokens on the LEFT (the instruction goes first, the candidates stay).
 * Training appends the answer letter and EOS and puts the loss on those two tokens only; the verbalizer reads the
 * letters' logits at the last position of the untrained prompt.
 *
 * Everything that depends on the tokenizer goes through `PromptTokenizer` (src/llm/prompt.ts), so the same code builds
 * prompts for llama.cpp (any GGUF, `llamaCppTokenizer`) and for reclm's own decoder.
 */
import { ReclmError } from "../../errors.ts";
import { alpacaShortPrompt, encodeTruncatedLeft, truncateToTokens, type EncodedPrompt, type PromptTokenizer } from "../../llm/prompt.ts";

/** LlamaRec's prompt settings [config.py: llm_system_template, llm_input_template, llm_max_*]. */
export interface LlamaRecPromptOptions {
  instruction: string;
  /** The input section; `{history}` and `{candidates}` are replaced by the two lists. */
  inputTemplate: string;
  /** Tokens kept of each title (llm_max_title_len). */
  maxTitleTokens: number;
  /** Tokens kept of the whole prompt, BOS included, cut on the left (llm_max_text_len). */
  maxPromptTokens: number;
}

export const LLAMAREC_PROMPT: Readonly<LlamaRecPromptOptions> = Object.freeze({
  instruction: "Given user history in chronological order, recommend an item from the candidate pool with its index letter.",
  inputTemplate: "User history: {history}; \n Candidate pool: {candidates}",
  maxTitleTokens: 32,
  maxPromptTokens: 1536,
});

/** History items in the prompt (llm_max_history) and candidates per prompt (1 + llm_negative_sample_size). */
export const LLAMAREC_MAX_HISTORY = 20;
export const LLAMAREC_CANDIDATES = 20;

/** The index letter of candidate i: A, B, ... (LlamaRec uses A..T for its 20 candidates). */
export function indexLetter(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= 26) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `candidate index ${i} has no index letter (A..Z hold 26 candidates)`, { field: "candidates" });
  }
  return String.fromCharCode(65 + i);
}

/** The prompt text for one user: history titles oldest first, candidate titles in the order they are lettered. */
export function llamarecPromptText(
  historyTitles: readonly string[],
  candidateTitles: readonly string[],
  options: Pick<LlamaRecPromptOptions, "instruction" | "inputTemplate"> = LLAMAREC_PROMPT,
): string {
  if (candidateTitles.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a ranking prompt needs at least one candidate", { field: "candidates" });
  const history = historyTitles.map((t, i) => `(${i + 1}) ${t}`).join(" \n ");
  const candidates = candidateTitles.map((t, i) => `(${indexLetter(i)}) ${t}`).join(" \n ");
  // One pass over the template, so a title that contains "{candidates}" is not substituted again.
  const input = options.inputTemplate.replace(/\{(history|candidates)\}/g, (_, key: string) => (key === "history" ? history : candidates));
  return alpacaShortPrompt(options.instruction, input);
}

export interface LlamaRecPromptInput {
  /** Titles of the history, oldest first (the caller keeps the last LLAMAREC_MAX_HISTORY). */
  history: readonly string[];
  /** Titles of the candidates, lettered in this order. */
  candidates: readonly string[];
}

/** The prompt text with every title cut to the title budget (untouched without a tokenizer). */
export function promptTextWithCutTitles(input: LlamaRecPromptInput, tok: PromptTokenizer | undefined, options: LlamaRecPromptOptions): string {
  const cut = (t: string) => (tok ? truncateToTokens(t, tok, options.maxTitleTokens) : t);
  return llamarecPromptText(input.history.map(cut), input.candidates.map(cut), options);
}

/** The scored prompt: the verbalizer reads the letters' logits after its last token. */
export function encodeLlamaRecPrompt(input: LlamaRecPromptInput, tok: PromptTokenizer, options: LlamaRecPromptOptions = LLAMAREC_PROMPT): EncodedPrompt {
  return encodeTruncatedLeft(promptTextWithCutTitles(input, tok, options), tok, options.maxPromptTokens);
}

/** A training example: the prompt, the answer letter and EOS; the loss is on the last `labelled` tokens only. */
export interface EncodedTrainingExample extends EncodedPrompt {
  /** Tokens at the end that carry the loss: the letter's token(s) and EOS. */
  labelled: number;
}

/**
 * The prompt with the answer letter appended, tokenized as one text (so the letter gets the token it takes after the
 * response header's newline), cut on the left, then EOS [generate_and_tokenize_train].
 */
export function encodeLlamaRecTrainingExample(
  input: LlamaRecPromptInput & { answer: number },
  tok: PromptTokenizer,
  options: LlamaRecPromptOptions = LLAMAREC_PROMPT,
): EncodedTrainingExample {
  if (!Number.isInteger(input.answer) || input.answer < 0 || input.answer >= input.candidates.length) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `answer ${input.answer} is not the index of one of ${input.candidates.length} candidates`, { field: "answer" });
  }
  const encoded = encodeTruncatedLeft(promptTextWithCutTitles(input, tok, options) + indexLetter(input.answer), tok, options.maxPromptTokens);
  return { tokens: [...encoded.tokens, tok.eos], truncated: encoded.truncated, labelled: 2 };
}

/**
 * The verbalizer's label words: the token each index letter becomes right after the response header's newline, read
 * from the tokenization of a training example's ending (not from encoding the bare letter, which a SentencePiece
 * tokenizer turns into "▁A"). A letter that does not come out as exactly one token there is refused.
 */
export function letterTokens(tok: PromptTokenizer, count: number = LLAMAREC_CANDIDATES): number[] {
  const header = alpacaShortPrompt("x", "y");
  const base = tok.tokenize(header);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const letter = indexLetter(i);
    const withLetter = tok.tokenize(header + letter);
    const prefixKept = base.every((t, k) => withLetter[k] === t);
    if (!prefixKept || withLetter.length !== base.length + 1) {
      throw new ReclmError(
        "RECLM_ERR_BAD_CONFIG",
        `the tokenizer does not give the index letter "${letter}" one token of its own after the response header ` +
          `(got ${withLetter.length - base.length} tokens${prefixKept ? "" : ", and the header tokenized differently"}); ` +
          "the verbalizer needs one token per letter",
        { field: "tokenizer" },
      );
    }
    out.push(withLetter[base.length]);
  }
  if (new Set(out).size !== out.length) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", "two index letters share one token: the verbalizer could not tell them apart", { field: "tokenizer" });
  }
  return out;
}
