/**
 * Text embeddings from a GGUF model, pooled three ways:
 * - "model": llama.cpp's embedding context (node-llama-cpp): an embedding model's own pooling (mean, CLS, ...); for
 *   an LM without a pooling type llama.cpp returns the last token's final hidden state. One text at a time (the
 *   embedding context has one sequence).
 * - "mean" / "last": the final hidden states (after the output RMSNorm) of reclm's own decoder on the engine
 *   (llama.ts `llamaHidden`), averaged over the text's tokens or taken at its last one. llama.cpp's addon does not
 *   hand out per-token hidden states, hence the second route. Texts go in batches of right-padded rows: the attention
 *   is causal, so padding after a text never reaches its positions, and only a row's real positions are pooled.
 *   llama architecture only (what reclm's decoder reads).
 * "last" and "model" give the same vector for an LM without a pooling type (test/llm/embeddings.test.ts).
 */
import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import { compile, Engine, ParamStore, type Graph } from "../engine/index.ts";
import type { LongWorkOptions } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { declareLlamaFromGguf, llamaHidden, type LlamaModel as DecoderModel } from "./llama.ts";
import { RequestQueue } from "./request-queue.ts";
import { contextThreads, modelFile, readGgufHeader, type LlmRuntimeOptions } from "./runtime.ts";

export type Pooling = "mean" | "last" | "model";

export interface EmbedderOptions extends LlmRuntimeOptions {
  /** Tokens a text may have (BOS/EOS included). Default 512. */
  contextSize?: number;
  /** Texts per engine batch ("mean", "last"). Default 8. */
  batchSize?: number;
  /** embed() calls waiting to run before callers wait too. Default 4. */
  maxQueued?: number;
}

export interface EmbedOptions extends LongWorkOptions {
  pooling: Pooling;
}

/** Padded lengths are rounded up to this, so a run over many texts compiles a few graphs, not one per length. */
const LENGTH_BUCKET = 32;

/** The engine side: reclm's decoder with the model's weights, and one graph per padded batch shape. */
interface DecoderRoute {
  engine: Engine;
  store: ParamStore;
  lm: DecoderModel;
  graphs: Map<number, Graph>;
}

export class Embedder {
  private decoder?: DecoderRoute;
  private embeddingContext?: Promise<LlamaEmbeddingContext>;
  private readonly queue: RequestQueue<Embedder>;
  private disposedFlag = false;

  private constructor(
    private readonly model: LlamaModel,
    private readonly threads: number,
    readonly contextSize: number,
    readonly batchSize: number,
    maxQueued: number,
  ) {
    this.queue = new RequestQueue<Embedder>([this], maxQueued, "embedder");
  }

  static create(model: LlamaModel, options: EmbedderOptions = {}): Embedder {
    const check = (v: number, field: string) => {
      if (!Number.isInteger(v) || v < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} must be a positive integer, got ${v}`, { field });
      return v;
    };
    return new Embedder(model, contextThreads(model, options), check(options.contextSize ?? 512, "contextSize"), check(options.batchSize ?? 8, "batchSize"), check(options.maxQueued ?? 4, "maxQueued"));
  }

  get disposed(): boolean {
    return this.disposedFlag;
  }

  /** One vector per text, in order. */
  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    const pooling = options.pooling;
    if (pooling !== "mean" && pooling !== "last" && pooling !== "model") {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `pooling must be "mean", "last" or "model", got ${JSON.stringify(pooling)}`, { field: "pooling" });
    }
    const tokens = texts.map((t, i) => this.tokens(t, `texts[${i}]`));
    return this.queue.run(1, () => (pooling === "model" ? this.embedWithLlamaCpp(tokens, options) : this.embedWithDecoder(tokens, pooling, options)));
  }

  /** Rejects queued embed() calls (RECLM_ERR_DISPOSED), lets a running one stop after its batch, frees everything. */
  async dispose(): Promise<void> {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    await this.queue.close();
    const ctx = this.embeddingContext;
    this.embeddingContext = undefined;
    if (ctx) await (await ctx.catch(() => undefined))?.dispose();
    if (this.decoder) {
      for (const g of this.decoder.graphs.values()) g.dispose();
      this.decoder.store.dispose();
      this.decoder.engine.dispose();
      this.decoder = undefined;
    }
  }

  /** Lets `await using` dispose it at the end of a scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** The tokens a text is embedded as: BOS / EOS where the model's tokenizer adds them, as llama.cpp's embedding does. */
  private tokens(text: string, field: string): number[] {
    if (typeof text !== "string") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} is not a string`, { field });
    const t = this.model.tokens;
    const out = this.model.tokenize(text, false).map(Number);
    if (t.shouldPrependBosToken && t.bos !== null) out.unshift(Number(t.bos));
    if (t.shouldAppendEosToken && t.eos !== null) out.push(Number(t.eos));
    if (out.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} is empty: nothing to embed`, { field });
    if (out.length > this.contextSize) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} has ${out.length} tokens; the embedder holds ${this.contextSize} (contextSize)`, { field });
    return out;
  }

  private checkOpen(options: LongWorkOptions): void {
    if (this.queue.isClosed) throw new ReclmError("RECLM_ERR_DISPOSED", "the embedder was disposed while this request ran");
    options.signal?.throwIfAborted();
  }

  private async embedWithLlamaCpp(texts: readonly number[][], options: LongWorkOptions): Promise<Float32Array[]> {
    this.embeddingContext ??= this.model.createEmbeddingContext({ contextSize: this.contextSize + 1, threads: this.threads });
    const ctx = await this.embeddingContext;
    const out: Float32Array[] = [];
    for (const tokens of texts) {
      this.checkOpen(options);
      out.push(Float32Array.from((await ctx.getEmbeddingFor(tokens as Token[])).vector));
      options.onProgress?.({ stage: "embed", done: out.length, total: texts.length, unit: "texts" });
    }
    return out;
  }

  private async embedWithDecoder(texts: readonly number[][], pooling: "mean" | "last", options: LongWorkOptions): Promise<Float32Array[]> {
    const route = await this.decoderRoute();
    const D = route.lm.config.dim;
    // Longest first, so each batch pads to a similar length; results go back in the callers' order.
    const order = texts.map((_, i) => i).sort((a, b) => texts[b].length - texts[a].length);
    const vectors: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      this.checkOpen(options);
      const rows = order.slice(start, start + this.batchSize);
      const T = Math.min(this.contextSize, Math.ceil(texts[rows[0]].length / LENGTH_BUCKET) * LENGTH_BUCKET);
      const graph = this.graph(route, T);
      const ids = new Int32Array(this.batchSize * T); // rows past the batch and positions past a text: token 0
      rows.forEach((r, b) => ids.set(texts[r], b * T));
      graph.run({ tokens: ids, pos: Int32Array.from({ length: T }, (_, i) => i) });
      const hidden = graph.read("hidden"); // [batchSize, T, D]
      rows.forEach((r, b) => {
        const n = texts[r].length;
        const v = new Float32Array(D);
        if (pooling === "last") v.set(hidden.subarray((b * T + n - 1) * D, (b * T + n) * D));
        else {
          for (let t = 0; t < n; t++) {
            const row = hidden.subarray((b * T + t) * D, (b * T + t + 1) * D);
            for (let d = 0; d < D; d++) v[d] += row[d];
          }
          for (let d = 0; d < D; d++) v[d] /= n;
        }
        vectors[r] = v;
      });
      options.onProgress?.({ stage: "embed", done: Math.min(order.length, start + this.batchSize), total: texts.length, unit: "texts" });
    }
    return vectors;
  }

  private async decoderRoute(): Promise<DecoderRoute> {
    if (this.decoder) return this.decoder;
    const file = modelFile(this.model);
    const header = await readGgufHeader(file);
    const engine = Engine.create({ threads: this.threads });
    const store = new ParamStore(engine);
    try {
      const lm = declareLlamaFromGguf(store, header, file);
      store.initialize(new Rng(0)); // copies the GGUF weights in (nothing random: there is no LoRA)
      this.decoder = { engine, store, lm, graphs: new Map() };
      return this.decoder;
    } catch (e) {
      store.dispose();
      engine.dispose();
      throw e;
    }
  }

  private graph(route: DecoderRoute, T: number): Graph {
    let g = route.graphs.get(T);
    if (!g) {
      const B = this.batchSize;
      g = compile(route.engine, {
        mode: "eval",
        params: route.store,
        build: (b) => ({ outputs: { hidden: llamaHidden(b, route.lm, b.input("tokens", [B, T], "i32"), b.input("pos", [T], "i32")) } }),
      });
      route.graphs.set(T, g);
    }
    return g;
  }
}
