/**
 * One llama.cpp context with several sequences, shared by the requests of a scorer or generator through a bounded
 * queue (request-queue.ts). Sequences keep their KV cache between requests: a request re-uses the longest prefix its
 * sequence already holds (a prompt's shared instruction, a beam's parent) and evaluates only the rest.
 *
 * One sequence decodes at a time. node-llama-cpp (3.21.1) batches what several sequences of a context queue in one
 * event-loop cycle into one llama_decode, and then now and then hands a sequence another one's next-token outputs
 * (5 of 600 prompts at 4 parallel sequences in one scratch run on an idle machine; the beam-search and
 * adapter-parity tests failed on it now and then). Requests still hold their own sequences and KV caches, and run
 * their JavaScript side by side; only their decodes take turns (test/llm/scorer.test.ts "parallel sequences").
 */
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { existsSync } from "node:fs";
import { ReclmError } from "../errors.ts";
import { RequestQueue } from "./request-queue.ts";
import { contextThreads, vocabularySize, type LlmRuntimeOptions } from "./runtime.ts";

/** A LoRA adapter GGUF (llama.cpp's adapter format, lora-gguf.ts) applied to every evaluation of a context. */
export interface LoraAdapterFile {
  file: string;
  /** Multiplies the adapter's alpha/rank (llama.cpp's scale). Defaults to 1. */
  scale?: number;
}

/** What a scorer or generator context is made of. */
export interface LlmContextOptions extends LlmRuntimeOptions {
  /** Sequences evaluated side by side (requests running at once). Defaults to 4. */
  parallel?: number;
  /** Tokens one sequence holds (prompt and continuation). Defaults to 2048. */
  contextSize?: number;
  lora?: LoraAdapterFile;
  /** Requests waiting for a sequence before submitters wait too. Defaults to 4 per sequence. */
  maxQueued?: number;
  /**
   * KV cache precision. "f16" (default) is llama.cpp's; "f32" matches reclm's decoder to ~1e-6 instead of ~1e-3
   * (parity checks, exact re-scoring).
   */
  kvCache?: "f16" | "f32";
}

const positiveInt = (v: number, field: string) => {
  if (!Number.isInteger(v) || v < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} must be a positive integer, got ${v}`, { field });
  return v;
};

/** The next-token outputs a `feed` asks for at a position of the tokens it evaluates. */
export interface NextTokenRequest {
  probabilities?: boolean;
  /** The argmax token and its probability (no full distribution crosses into JavaScript). */
  greedy?: boolean;
}

export interface NextTokenOutput {
  probabilities?: Map<Token, number>;
  token?: number;
  confidence?: number;
}

export interface PoolStats {
  /** Requests accepted and waiting for a sequence. */
  queued: number;
  /** Submitters waiting for room in the full queue. */
  waiting: number;
  /** Requests holding sequences now. */
  running: number;
  /** Tokens evaluated so far: prefix re-use shows here, as only what a sequence did not hold is counted. */
  evaluatedTokens: number;
}

/**
 * llama.cpp (node-llama-cpp 3.21.1's) attends to a sequence's KV cells padded up to a multiple of 256, and
 * node-llama-cpp decodes new tokens in batches of 512 counted from the first new one. After a kept prefix that ends
 * off this grid (a shared instruction of 40 tokens, a BOS), every batch then attends up to 255 empty cells more:
 * prompts of 700-1,300 tokens after a kept BOS took 15-20% longer than from an empty sequence (scratch comparison, SmolLM2-135M
 * shape, Q8_0, 1 thread). Evaluating up to the next multiple of 256 first puts every later batch back on the grid.
 * Prompts that fit one batch are evaluated in one call: nothing to realign there.
 */
const KV_CELL_GRID = 256;

export class SequencePool {
  private evaluated = 0;
  /** The decode in flight (settled or not): the next one starts after it. */
  private decoding: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly context: LlamaContext,
    readonly queue: RequestQueue<LlamaContextSequence>,
    /** Tokens one sequence holds. */
    readonly contextSize: number,
    readonly vocabSize: number,
  ) {}

  static async create(model: LlamaModel, options: LlmContextOptions, owner: string, sequencesPerRequest = 1): Promise<SequencePool> {
    const parallel = positiveInt(options.parallel ?? 4, "parallel");
    const contextSize = positiveInt(options.contextSize ?? 2048, "contextSize");
    const lora = options.lora;
    if (lora) {
      if (!existsSync(lora.file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "LoRA adapter file not found", { file: lora.file, field: "lora" });
      if (lora.scale !== undefined && !Number.isFinite(lora.scale)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `LoRA scale must be a finite number, got ${lora.scale}`, { field: "lora.scale" });
    }
    const kv = options.kvCache ?? "f16";
    if (kv !== "f16" && kv !== "f32") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `kvCache must be "f16" or "f32", got ${JSON.stringify(kv)}`, { field: "kvCache" });
    const sequences = parallel * sequencesPerRequest;
    const threads = contextThreads(model, options);
    const vocabSize = vocabularySize(model);
    let context: LlamaContext;
    try {
      context = await model.createContext({
        // node-llama-cpp's contextSize is per sequence: it allocates contextSize x sequences KV cells. One cell more than
        // the tokens a sequence may hold: node-llama-cpp shifts a sequence (erases its first tokens, silently) as soon as
        // its tokens reach the context size, so a prompt of exactly contextSize tokens (any prompt cut to its budget)
        // would be scored without its beginning (test/llm/scorer.test.ts).
        contextSize: contextSize + 1,
        sequences,
        threads,
        flashAttention: false,
        // node-llama-cpp would retry with a smaller context: a silent change of what the caller asked for.
        failedCreationRemedy: false,
        ...(kv === "f32" ? { experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" } : {}),
        ...(lora ? { lora: { adapters: [{ filePath: lora.file, scale: lora.scale ?? 1 }] } } : {}),
      });
    } catch (e) {
      if (e instanceof ReclmError) throw e;
      // A LoRA whose tensors do not fit the model is refused by llama.cpp with an exception (no assert): name the file.
      const where = lora ? { file: lora.file, field: "lora" } : { field: "contextSize" };
      throw new ReclmError(lora ? "RECLM_ERR_BAD_CHECKPOINT" : "RECLM_ERR_ENGINE", `llama.cpp could not create the ${owner}'s context (${(e as Error).message})`, where, { cause: e });
    }
    const seqs = Array.from({ length: sequences }, () => context.getSequence());
    const maxQueued = positiveInt(options.maxQueued ?? 4 * parallel, "maxQueued");
    const queue = new RequestQueue(seqs, maxQueued, owner, async (seq) => {
      if (!seq.disposed) await seq.clearHistory();
    });
    return new SequencePool(context, queue, contextSize, vocabSize);
  }

  /**
   * Makes `seq` hold `tokens`, keeping the longest prefix it already holds (but re-evaluating every position in
   * `want`, whose next-token outputs are returned in the order of `want`). Positions are 0-based indices into `tokens`.
   */
  async feed(seq: LlamaContextSequence, tokens: readonly number[], want: readonly number[], request: NextTokenRequest): Promise<NextTokenOutput[]> {
    const turn = this.decoding.then(() => this.decode(seq, tokens, want, request));
    this.decoding = turn.catch(() => undefined);
    return turn;
  }

  private async decode(seq: LlamaContextSequence, tokens: readonly number[], want: readonly number[], request: NextTokenRequest): Promise<NextTokenOutput[]> {
    const first = want.length > 0 ? Math.min(...want) : tokens.length;
    const common = seq.compareContextTokens(tokens as Token[]).firstDifferentIndex;
    const keep = Math.min(common, first, tokens.length);
    if (keep < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    if (keep === tokens.length) return [];
    const wanted = new Set(want);
    const generateNext = request.greedy ? { token: true, confidence: true } : { probabilities: true };
    const input = tokens.slice(keep).map((t, i) => (wanted.has(keep + i) ? ([t as Token, { generateNext }] as const) : (t as Token)));
    this.evaluated += input.length;
    // Up to the KV grid first, when a kept prefix ends off it and the rest takes more than one batch (see
    // KV_CELL_GRID; within one batch there is nothing to realign, and a second decode costs its own overhead).
    const toGrid = Math.ceil(keep / KV_CELL_GRID) * KV_CELL_GRID - keep;
    const split = toGrid > 0 && input.length > this.context.batchSize;
    let out = await seq.controlledEvaluate((split ? input.slice(0, toGrid) : input) as never);
    if (split) {
      // (controlledEvaluate's array ends at the last position that asked for outputs)
      const rest = await seq.controlledEvaluate(input.slice(toGrid) as never);
      out = Array.from({ length: input.length }, (_, i) => (i < toGrid ? out[i] : rest[i - toGrid]));
    }
    return want.map((pos) => {
      const next = out[pos - keep]?.next;
      if (!next) throw new ReclmError("RECLM_ERR_INTERNAL", `llama.cpp returned no next-token output at position ${pos}`);
      return { probabilities: next.probabilities, token: next.token === null || next.token === undefined ? undefined : Number(next.token), confidence: next.confidence };
    });
  }

  get disposed(): boolean {
    return this.context.disposed;
  }

  /** CPU threads the context evaluates with. */
  get threads(): number {
    return this.context.idealThreads;
  }

  /** The queue's state and the tokens evaluated so far, for inspection and tests. */
  get stats(): PoolStats {
    const q = this.queue;
    return { queued: q.queued, waiting: q.waiting, running: q.running, evaluatedTokens: this.evaluated };
  }

  /**
   * Checks `tokens` are ids of the model's vocabulary and fit `room` tokens (default: one sequence). Before llama.cpp
   * sees them: it fails the whole batched decode, every sequence's request, on one bad id.
   */
  check(tokens: readonly number[], field: string, room = this.contextSize): void {
    if (tokens.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} has no tokens`, { field });
    if (tokens.length > room) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} has ${tokens.length} tokens; ${room} fit in a sequence of this context (contextSize ${this.contextSize})`, { field });
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} holds ${t}, which is not a token id of this model (0..${this.vocabSize - 1})`, { field });
    }
  }

  /** Refuses work after dispose() began (long jobs check it between steps). */
  assertOpen(): void {
    if (this.queue.isClosed) throw new ReclmError("RECLM_ERR_DISPOSED", "disposed while this request was running");
  }

  /** Rejects queued requests (RECLM_ERR_DISPOSED), waits for running ones, then frees the context. */
  async dispose(): Promise<void> {
    await this.queue.close();
    if (!this.context.disposed) await this.context.dispose();
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** log P(token) from a full next-token distribution; a token the distribution lacks is not in the vocabulary. */
export function logProbOf(probabilities: Map<Token, number> | undefined, token: number, field: string): number {
  if (!probabilities) throw new ReclmError("RECLM_ERR_INTERNAL", "llama.cpp returned no next-token distribution");
  const p = probabilities.get(token as Token);
  if (p === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `token ${token} is outside the model's vocabulary of ${probabilities.size}`, { field });
  return Math.log(p);
}
