/**
 * Text generation on llama.cpp: greedy decoding and beam search, free or constrained to a prefix tree of allowed
 * token sequences (token-trie.ts; grounding generated item titles in a catalogue). node-llama-cpp has neither beam
 * search nor a way to copy one sequence's KV cache to another, so each beam runs on a sequence of its own and a
 * step evaluates only what that sequence lacks: the new token when the beam stays on its parent's sequence, the
 * tokens after the longest common prefix otherwise (the prompt itself is evaluated once per sequence, not per step).
 * The beams of a step are decoded together in one batch.
 *
 * Scores are the model's own log-probabilities (no renormalisation over what the trie allows, as Hugging Face's
 * prefix_allowed_tokens_fn does it); `logProb` of a result is exactly Σ log P(token) over its `tokens`, so re-scoring
 * them with NextTokenScorer.scoreContinuations gives the same number.
 */
import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { ReclmError } from "../errors.ts";
import { logProbOf, SequencePool, type LlmContextOptions, type PoolStats } from "./sequence-pool.ts";
import type { TokenTrie, TrieNode } from "./token-trie.ts";

export interface TextGeneratorOptions extends LlmContextOptions {
  /** The widest beam a request may ask for: each request holds this many sequences of the context. Default 4. */
  maxBeamWidth?: number;
}

export interface GenerateOptions {
  /**
   * Tokens generated at most (the end-of-sequence token included). Default 64 (with a trie, its depth + 1), or what
   * the context has room for after the prompt when that is less.
   */
  maxNewTokens?: number;
  /** 1 (default): greedy decoding. More: beam search keeping this many hypotheses. */
  beamWidth?: number;
  /** Generation of a hypothesis ends at the first of these strings; its text is cut before it. */
  stop?: readonly string[];
  /**
   * Ranks finished hypotheses by logProb / length^lengthPenalty (Hugging Face's length_penalty; length = generated
   * tokens). Default 0: by the summed log-probability, which favours short outputs.
   */
  lengthPenalty?: number;
  /**
   * Beam search stops once no live hypothesis can beat the worst of `beamWidth` results (default true). The results
   * are the same either way (the bound is exact); false runs every step up to maxNewTokens, for checking that.
   */
  earlyStop?: boolean;
  /** Only sequences of this trie may be generated; the end-of-sequence token is allowed exactly where one ends. */
  trie?: TokenTrie;
  signal?: AbortSignal;
}

const DEFAULT_MAX_NEW_TOKENS = 64;

export type FinishReason = "eos" | "stop" | "length";

export interface GeneratedSequence {
  /** Generated token ids, with the end-of-generation token last when `finish` is "eos". */
  tokens: number[];
  /** The tokens as text (without the end-of-generation token), cut before the stop string when `finish` is "stop". */
  text: string;
  /** Σ log P(token | prompt, tokens before it) over `tokens`. */
  logProb: number;
  /** What the results are ranked by: logProb / tokens.length^lengthPenalty. */
  score: number;
  finish: FinishReason;
}

/** A hypothesis being extended. */
interface Beam {
  tokens: number[];
  logProb: number;
  node?: TrieNode;
  /** Index of the sequence that holds the prompt and this beam's tokens (the parent's, before assignment). */
  seq: number;
}

/** A one-token extension of a beam, and how it ends the hypothesis, if it does. */
interface Candidate {
  parent: Beam;
  token: number;
  logProb: number;
  finish?: FinishReason;
  /** The text cut before the stop string, when finish is "stop". */
  text?: string;
}

interface ResolvedOptions {
  maxNewTokens: number;
  beamWidth: number;
  stop: readonly string[];
  lengthPenalty: number;
  earlyStop: boolean;
  trie?: TokenTrie;
  signal?: AbortSignal;
}

export class TextGenerator {
  private constructor(
    private readonly model: LlamaModel,
    private readonly pool: SequencePool,
    readonly maxBeamWidth: number,
  ) {}

  static async create(model: LlamaModel, options: TextGeneratorOptions = {}): Promise<TextGenerator> {
    const maxBeamWidth = options.maxBeamWidth ?? 4;
    if (!Number.isInteger(maxBeamWidth) || maxBeamWidth < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxBeamWidth must be a positive integer, got ${maxBeamWidth}`, { field: "maxBeamWidth" });
    const pool = await SequencePool.create(model, { ...options, parallel: options.parallel ?? 1 }, "generator", maxBeamWidth);
    return new TextGenerator(model, pool, maxBeamWidth);
  }

  get contextSize(): number {
    return this.pool.contextSize;
  }

  get disposed(): boolean {
    return this.pool.disposed;
  }

  get stats(): PoolStats {
    return this.pool.stats;
  }

  /** CPU threads of the context. */
  get threads(): number {
    return this.pool.threads;
  }

  /** Greedy decoding (beamWidth 1, the default) or beam search; results best first. */
  generate(prompt: readonly number[], options: GenerateOptions = {}): Promise<GeneratedSequence[]> {
    return (options.beamWidth ?? 1) === 1 ? this.greedy(prompt, options).then((r) => [r]) : this.beamSearch(prompt, options);
  }

  /** The most likely next token at every step (among the trie's children, when constrained). */
  async greedy(prompt: readonly number[], options: Omit<GenerateOptions, "beamWidth"> = {}): Promise<GeneratedSequence> {
    const o = this.resolve(prompt, { ...options, beamWidth: 1 });
    return this.pool.queue.run(1, async ([seq]) => {
      const tokens: number[] = [];
      let logProb = 0;
      let node = o.trie?.root;
      for (let step = 0; step < o.maxNewTokens; step++) {
        this.checkpoint(o);
        const context = [...prompt, ...tokens];
        let token: number;
        let lp: number;
        if (node) {
          const [out] = await this.pool.feed(seq, context, [context.length - 1], { probabilities: true });
          const best = this.allowed(node).reduce<{ token: number; lp: number } | undefined>((b, t) => {
            const l = logProbOf(out.probabilities, t, "trie");
            return b === undefined || l > b.lp ? { token: t, lp: l } : b;
          }, undefined)!;
          ({ token, lp } = best);
        } else {
          const [out] = await this.pool.feed(seq, context, [context.length - 1], { greedy: true });
          if (out.token === undefined || out.confidence === undefined) throw new ReclmError("RECLM_ERR_INTERNAL", "llama.cpp returned no greedy token");
          token = out.token;
          lp = Math.log(out.confidence);
        }
        tokens.push(token);
        logProb += lp;
        const ended = this.ends(token, node);
        if (ended) return this.result(tokens, logProb, "eos", o);
        node = node?.children.get(token);
        const text = this.stopText(tokens, o.stop);
        if (text !== undefined) return this.result(tokens, logProb, "stop", o, text);
      }
      return this.result(tokens, logProb, "length", o);
    });
  }

  /**
   * Beam search (Hugging Face's rules): at each step every live hypothesis is extended by its most likely tokens (by
   * the trie's children, when constrained) and all extensions are ranked by summed log-probability; among the first
   * `beamWidth` of them, those that end (end-of-sequence, a stop string, the token budget) become results, and the
   * best `beamWidth` that do not end stay live. It stops when no live hypothesis can beat the worst of `beamWidth`
   * results. So width 1 is greedy decoding, and a width at least the number of extensions of every step is exhaustive.
   * Returns up to `beamWidth` distinct sequences, best first.
   */
  async beamSearch(prompt: readonly number[], options: GenerateOptions = {}): Promise<GeneratedSequence[]> {
    const o = this.resolve(prompt, options);
    const W = o.beamWidth;
    return this.pool.queue.run(W, async (seqs) => {
      let live: Beam[] = [{ tokens: [], logProb: 0, node: o.trie?.root, seq: 0 }];
      const finished: GeneratedSequence[] = [];
      for (let step = 0; step < o.maxNewTokens && live.length > 0; step++) {
        this.checkpoint(o);
        const dists = await Promise.all(live.map((b) => {
          const context = [...prompt, ...b.tokens];
          return this.pool.feed(seqs[b.seq], context, [context.length - 1], { probabilities: true }).then(([out]) => out.probabilities);
        }));
        const last = step === o.maxNewTokens - 1;
        const candidates = live.flatMap((b, i) => this.extensions(b, dists[i], W, o, last));
        candidates.sort((a, b) => b.logProb - a.logProb);
        const next: Beam[] = [];
        candidates.forEach((c, rank) => {
          const tokens = [...c.parent.tokens, c.token];
          if (c.finish) {
            if (rank < W) finished.push(this.result(tokens, c.logProb, c.finish, o, c.text));
          } else if (next.length < W) next.push({ tokens, logProb: c.logProb, node: c.parent.node?.children.get(c.token), seq: c.parent.seq });
        });
        finished.sort((a, b) => b.score - a.score);
        finished.length = Math.min(finished.length, W);
        live = next;
        this.assignSequences(live, seqs, prompt);
        if (o.earlyStop && finished.length === W && live.length > 0) {
          // No live hypothesis can do better than its score now spread over the longest output (its sum only falls).
          const bound = Math.max(...live.map((b) => b.logProb)) / Math.pow(o.maxNewTokens, o.lengthPenalty);
          if (bound <= finished[W - 1].score) break;
        }
      }
      return finished;
    });
  }

  /** Rejects queued requests (RECLM_ERR_DISPOSED), lets running ones stop at their next step, frees the context. */
  async dispose(): Promise<void> {
    await this.pool.dispose();
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private resolve(prompt: readonly number[], options: GenerateOptions): ResolvedOptions {
    const beamWidth = options.beamWidth ?? 1;
    if (!Number.isInteger(beamWidth) || beamWidth < 1 || beamWidth > this.maxBeamWidth) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `beamWidth must be an integer in 1..${this.maxBeamWidth} (this generator's maxBeamWidth), got ${beamWidth}`, { field: "beamWidth" });
    }
    this.pool.check(prompt, "prompt");
    const maxNewTokens = options.maxNewTokens ?? Math.min(options.trie ? options.trie.depth + 1 : DEFAULT_MAX_NEW_TOKENS, this.pool.contextSize - prompt.length);
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxNewTokens must be a positive integer, got ${maxNewTokens}`, { field: "maxNewTokens" });
    if (prompt.length + maxNewTokens > this.pool.contextSize) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `a prompt of ${prompt.length} tokens and ${maxNewTokens} new ones do not fit a sequence of ${this.pool.contextSize}`, { field: "maxNewTokens" });
    }
    const lengthPenalty = options.lengthPenalty ?? 0;
    if (!Number.isFinite(lengthPenalty) || lengthPenalty < 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `lengthPenalty must be a finite number >= 0, got ${lengthPenalty}`, { field: "lengthPenalty" });
    const stop = options.stop ?? [];
    if (stop.some((s) => typeof s !== "string" || s.length === 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "stop strings must be non-empty", { field: "stop" });
    if (options.trie && this.model.tokens.eos === null) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "constrained generation needs the model's end-of-sequence token, and it defines none", { field: "trie" });
    return { maxNewTokens, beamWidth, stop, lengthPenalty, earlyStop: options.earlyStop ?? true, trie: options.trie, signal: options.signal };
  }

  private checkpoint(o: ResolvedOptions): void {
    this.pool.assertOpen();
    o.signal?.throwIfAborted();
  }

  /** Tokens a constrained hypothesis at `node` may take: the trie's children, and end-of-sequence where one ends. */
  private allowed(node: TrieNode): number[] {
    const out = [...node.children.keys()];
    if (node.end) out.push(Number(this.model.tokens.eos));
    return out;
  }

  /** Whether `token` ends the hypothesis: end-of-sequence at a trie end, any end-of-generation token when free. */
  private ends(token: number, node: TrieNode | undefined): boolean {
    if (node) return node.end && token === Number(this.model.tokens.eos);
    return this.model.isEogToken(token as Token);
  }

  /**
   * The extensions of a beam worth ranking, each marked with how it ends, if it does: with a trie, every allowed token;
   * free, its most likely tokens until `width` of them would stay live (no more can survive the step).
   */
  private extensions(b: Beam, dist: Map<Token, number> | undefined, width: number, o: ResolvedOptions, last: boolean): Candidate[] {
    if (!dist) throw new ReclmError("RECLM_ERR_INTERNAL", "llama.cpp returned no next-token distribution");
    const extend = (token: number, logProb: number): Candidate => {
      const c: Candidate = { parent: b, token, logProb: b.logProb + logProb };
      if (this.ends(token, b.node)) c.finish = "eos";
      else if ((c.text = this.stopText([...b.tokens, token], o.stop)) !== undefined) c.finish = "stop";
      else if (last) c.finish = "length";
      return c;
    };
    if (b.node) return this.allowed(b.node).map((t) => extend(t, logProbOf(dist, t, "trie")));
    const out: Candidate[] = [];
    let staying = 0;
    for (const [t, p] of [...dist].sort((x, y) => y[1] - x[1])) {
      if (staying >= width) break;
      const c = extend(Number(t), Math.log(p));
      out.push(c);
      if (!c.finish || c.finish === "length") staying++;
    }
    return out;
  }

  /**
   * Gives each live beam a sequence: its parent's when no sibling took it first (then only the new token is
   * evaluated), else the free sequence that shares the longest prefix with it.
   */
  private assignSequences(live: Beam[], seqs: readonly LlamaContextSequence[], prompt: readonly number[]): void {
    const taken = new Set<number>();
    const orphans: Beam[] = [];
    for (const b of live) {
      if (taken.has(b.seq)) orphans.push(b);
      else taken.add(b.seq);
    }
    for (const b of orphans) {
      const context = [...prompt, ...b.tokens] as Token[];
      let best = -1;
      let bestShared = -1;
      seqs.forEach((s, i) => {
        if (taken.has(i)) return;
        const shared = s.compareContextTokens(context).firstDifferentIndex;
        if (shared > bestShared) [best, bestShared] = [i, shared];
      });
      b.seq = best;
      taken.add(best);
    }
  }

  /** The text up to the first stop string, when one occurs in the decoded tokens. */
  private stopText(tokens: readonly number[], stop: readonly string[]): string | undefined {
    if (stop.length === 0) return undefined;
    const text = this.model.detokenize(tokens as Token[], false);
    let cut = -1;
    for (const s of stop) {
      const at = text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    return cut < 0 ? undefined : text.slice(0, cut);
  }

  private result(tokens: number[], logProb: number, finish: FinishReason, o: ResolvedOptions, text?: string): GeneratedSequence {
    const shown = finish === "eos" ? tokens.slice(0, -1) : tokens;
    return {
      tokens,
      text: text ?? this.model.detokenize(shown as Token[], false),
      logProb,
      score: logProb / Math.pow(tokens.length, o.lengthPenalty),
      finish,
    };
  }
}
