/**
 * Scoring with llama.cpp, no generation: the next-token log-probabilities of candidate tokens after a prompt (a
 * verbalizer's forward), the log-probability of every token of a text given the ones before it (perplexity), and
 * the log-likelihood of complete continuations of one prompt. Optionally with a LoRA adapter file. Requests go
 * through one context's sequences (sequence-pool.ts): many at once are batched, each keeps what its sequence holds.
 */
import type { LlamaModel } from "node-llama-cpp";
import type { LongWorkOptions } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { logProbOf, SequencePool, type LlmContextOptions, type PoolStats } from "./sequence-pool.ts";

export type NextTokenScorerOptions = LlmContextOptions;

/** Per-token log-probabilities of a text and what they add up to. */
export interface TokenLogProbs {
  /** logProbs[i] = log P(tokens[i + 1] | tokens[0..i]): every token but the first, which nothing predicts. */
  logProbs: Float64Array;
  /** Mean negative log-likelihood per predicted token (nats). */
  nll: number;
  /** exp(nll). */
  perplexity: number;
}

/** Perplexity of a text scored in windows. */
export interface TextPerplexity {
  /** Tokens predicted. */
  predicted: number;
  windows: number;
  /** Mean negative log-likelihood per predicted token (nats). */
  nll: number;
  perplexity: number;
}

/**
 * A verbalizer's forward: for each prompt (token ids), the log-probabilities of the given candidate tokens as the next
 * token after the prompt's last position, in ONE forward pass per prompt and no generation (a ranker that letters its 20
 * candidates by the logits of the letters A..T there; log p differs from the raw logit by one constant per prompt,
 * so the ranking is the same). Runs on llama.cpp with any GGUF node-llama-cpp loads.
 */
export class NextTokenScorer {
  private constructor(private readonly pool: SequencePool) {}

  static async create(model: LlamaModel, options: NextTokenScorerOptions = {}): Promise<NextTokenScorer> {
    return new NextTokenScorer(await SequencePool.create(model, options, "scorer"));
  }

  /** Tokens one prompt (with its continuation) may have. */
  get contextSize(): number {
    return this.pool.contextSize;
  }

  get stats(): PoolStats {
    return this.pool.stats;
  }

  /** Prompts evaluated side by side (sequences of the context). */
  get parallel(): number {
    return this.pool.queue.capacity;
  }

  /** CPU threads of the context. */
  get threads(): number {
    return this.pool.threads;
  }

  get disposed(): boolean {
    return this.pool.disposed;
  }

  /** log P(candidates[j] | prompt), one request; a bad prompt rejects this request only. */
  async scorePrompt(prompt: readonly number[], candidates: readonly number[], field = "prompt"): Promise<Float64Array> {
    checkCandidates(candidates);
    this.pool.check(prompt, field);
    return this.pool.queue.run(1, async ([seq]) => {
      const [out] = await this.pool.feed(seq, prompt, [prompt.length - 1], { probabilities: true });
      return Float64Array.from(candidates, (c) => logProbOf(out.probabilities, c, "candidates"));
    });
  }

  /**
   * out[i][j] = log P(candidates[j] | prompts[i]). Prompts are queued as they fit (the producer waits when the queue is
   * full); the first failing prompt rejects the whole call.
   */
  async score(prompts: readonly (readonly number[])[], candidates: readonly number[], options: LongWorkOptions = {}): Promise<Float64Array[]> {
    checkCandidates(candidates);
    return this.each(prompts, (p, i) => this.pool.queue.enqueue(1, async ([seq]) => {
      this.pool.check(p, `prompts[${i}]`);
      const [out] = await this.pool.feed(seq, p, [p.length - 1], { probabilities: true });
      return Float64Array.from(candidates, (c) => logProbOf(out.probabilities, c, "candidates"));
    }), options, "prompts");
  }

  /** The log-probability of every token of `tokens` after the ones before it (one forward pass). */
  async tokenLogProbs(tokens: readonly number[]): Promise<TokenLogProbs> {
    this.pool.check(tokens, "tokens");
    if (tokens.length < 2) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a text needs at least 2 tokens for the model to predict one", { field: "tokens" });
    const logProbs = await this.pool.queue.run(1, async ([seq]) => {
      const want = Array.from({ length: tokens.length - 1 }, (_, i) => i);
      const outs = await this.pool.feed(seq, tokens, want, { probabilities: true });
      return Float64Array.from(outs, (o, i) => logProbOf(o.probabilities, tokens[i + 1], "tokens"));
    });
    const nll = -logProbs.reduce((a, b) => a + b, 0) / logProbs.length;
    return { logProbs, nll, perplexity: Math.exp(nll) };
  }

  /**
   * Perplexity of a long text (token ids without BOS) in windows of one sequence: each window is BOS (when the model
   * has one) and the next tokens that fit, scored from its own start, so every text token is predicted once from the
   * tokens before it in its window (without BOS, a window's first token is not predicted). Windows run side by side.
   */
  async perplexity(text: readonly number[], bos: number | null, options: LongWorkOptions = {}): Promise<TextPerplexity> {
    const lead = bos === null ? [] : [bos];
    const room = this.pool.contextSize - lead.length;
    if (room < (bos === null ? 2 : 1)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `a context of ${this.pool.contextSize} tokens holds no window to score`, { field: "contextSize" });
    const windows: number[][] = [];
    for (let i = 0; i < text.length; i += room) windows.push([...lead, ...text.slice(i, i + room)]);
    const scored = windows.filter((w) => w.length >= 2);
    if (scored.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `a text of ${text.length} token(s) leaves nothing to predict`, { field: "text" });
    const rows = await this.each(scored, (w) => this.pool.queue.enqueue(1, async ([seq]) => {
      this.pool.check(w, "text");
      const want = Array.from({ length: w.length - 1 }, (_, i) => i);
      const outs = await this.pool.feed(seq, w, want, { probabilities: true });
      return outs.reduce((sum, o, i) => sum + logProbOf(o.probabilities, w[i + 1], "text"), 0);
    }), options, "perplexity");
    const predicted = scored.reduce((n, w) => n + w.length - 1, 0);
    const nll = -rows.reduce((a, b) => a + b, 0) / predicted;
    return { predicted, windows: scored.length, nll, perplexity: Math.exp(nll) };
  }

  /**
   * The log-likelihood log P(continuation | prompt) = Σ_t log P(c_t | prompt, c_<t) of each continuation: one decode
   * per continuation on a sequence that already holds the prompt (each sequence evaluates the prompt once; later
   * continuations re-evaluate only its last token and themselves), continuations on different sequences decoded in one
   * batch.
   */
  async scoreContinuations(prompt: readonly number[], continuations: readonly (readonly number[])[], options: LongWorkOptions = {}): Promise<Float64Array> {
    this.pool.check(prompt, "prompt");
    const rows = await this.each(continuations, (c, i) => this.pool.queue.enqueue(1, async ([seq]) => {
      this.pool.check(c, `continuations[${i}]`, this.pool.contextSize - prompt.length);
      const full = [...prompt, ...c];
      const want = Array.from({ length: c.length }, (_, k) => prompt.length - 1 + k);
      const outs = await this.pool.feed(seq, full, want, { probabilities: true });
      return outs.reduce((sum, o, k) => sum + logProbOf(o.probabilities, c[k], `continuations[${i}]`), 0);
    }), options, "continuations");
    return Float64Array.from(rows);
  }

  /** Rejects queued requests (RECLM_ERR_DISPOSED), waits for the running ones, frees the context. */
  async dispose(): Promise<void> {
    await this.pool.dispose();
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** Queues one request per item (waiting for room), reports progress as they finish, returns the results in order. */
  private async each<I, T>(
    items: readonly I[],
    submit: (item: I, index: number) => Promise<{ result: Promise<T> }>,
    options: LongWorkOptions,
    stage: string,
  ): Promise<T[]> {
    let done = 0;
    let failed = false;
    const results: Promise<T>[] = [];
    // Stop queueing once a request failed: the call rejects anyway.
    for (let i = 0; i < items.length && !failed; i++) {
      options.signal?.throwIfAborted();
      const { result } = await submit(items[i], i);
      const reported = result.then(
        (r) => {
          options.onProgress?.({ stage, done: ++done, total: items.length });
          return r;
        },
        (e: unknown) => {
          failed = true;
          throw e;
        },
      );
      reported.catch(() => {}); // observed now; Promise.all below reports it
      results.push(reported);
    }
    return Promise.all(results);
  }
}

function checkCandidates(candidates: readonly number[]): void {
  for (const c of candidates) {
    if (!Number.isInteger(c) || c < 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `candidate token ${c} is not a token id`, { field: "candidates" });
  }
}
