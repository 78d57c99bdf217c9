/**
 * The one module that imports node-llama-cpp's code (the other llm modules import its types only): reading GGUF
 * headers, starting llama.cpp with a thread count and GPU setting, loading models, and reference next-token
 * distributions for parity checks. Contexts built on it: sequence-pool.ts (scorer.ts, generate.ts), embeddings.ts.
 * reclm's own decoder (llama.ts) trains on the engine; this is the other half of the "one engine" (ggml) story: the
 * same GGUF, run by llama.cpp.
 */
import { getLlama, readGgufFileInfo, resolveChatWrapper, type Llama, type LlamaModel } from "node-llama-cpp";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ReclmError } from "../errors.ts";

/** One tensor of a GGUF file: its name, PyTorch-order shape, ggml type and absolute byte offset in the file. */
export interface GgufTensor {
  name: string;
  shape: number[];
  ggmlType: number;
  fileOffset: number;
}

export interface GgufHeader {
  architecture: string;
  /** Flattened metadata: "llama.attention.head_count" -> 8 (token lists are skipped). */
  metadata: Record<string, unknown>;
  tensors: GgufTensor[];
}

/** Reads a GGUF file's metadata and tensor table (not the weights). */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "GGUF model file not found", { file: path });
  let info;
  try {
    info = await readGgufFileInfo(path, { readTensorInfo: true, ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"] });
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `not a readable GGUF file (${(e as Error).message})`, { file: path }, { cause: e });
  }
  const metadata: Record<string, unknown> = {};
  const flatten = (prefix: string, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x);
    else metadata[prefix] = typeof v === "bigint" ? Number(v) : v;
  };
  flatten("", info.metadata);
  const tensors = (info.fullTensorInfo ?? []).map((t) => ({
    name: t.name,
    // GGUF lists ne (fastest dim first); PyTorch order is the reverse.
    shape: t.dimensions.map(Number).reverse(),
    ggmlType: Number(t.ggmlType),
    fileOffset: Number(t.fileOffset),
  }));
  return { architecture: String(metadata["general.architecture"] ?? ""), metadata, tensors };
}

/**
 * Where llama.cpp runs and with how many threads. Every entry point that loads a model or creates a context (scorer,
 * generator, embedder) takes these; a context's options fall back to the ones its model was loaded with.
 */
export interface LlmRuntimeOptions {
  /**
   * CPU threads of one context. Default: $RECLM_THREADS, else `llama.cpuMathCores` (the physical cores llama.cpp
   * counts). Measured on this project's 2-core machine (idle; SmolLM2-135M shape, Q8_0, one 1,111-token prompt):
   * 1 thread 470 tok/s, 2 threads 804 tok/s, 4 threads 46 tok/s (node-llama-cpp's own CPU default is
   * max(4, cores): ggml's threads spin in barriers, so more threads than cores is ~17x slower, not faster). The best
   * measured count is the core count, hence the default.
   */
  threads?: number;
  /**
   * "auto": a GPU (CUDA, Vulkan, Metal) when node-llama-cpp finds one with a prebuilt binary, else the CPU. false
   * (default): CPU only. Either way nothing is built or downloaded.
   */
  gpu?: "auto" | false;
}

const runtimes = new Map<"auto" | false, Promise<Llama>>();

/** The llama.cpp runtime for a GPU setting (one per process and setting; prebuilt binaries only, never a build). */
export function llamaRuntime(gpu: "auto" | false = false): Promise<Llama> {
  if (gpu !== false && gpu !== "auto") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `gpu must be "auto" or false, got ${JSON.stringify(gpu)}`, { field: "gpu" });
  let runtime = runtimes.get(gpu);
  if (!runtime) {
    runtime = getLlama({ gpu, build: "never", logLevel: "error" as never }).then(
      (llama) => {
        // node-llama-cpp caps the threads of all its contexts together at max(4, cores) on CPU; cap them at the cores,
        // so two contexts running at once share the cores instead of oversubscribing them (see `threads`).
        if (llama.gpu === false) llama.maxThreads = llama.cpuMathCores;
        return llama;
      },
      (e: unknown) => {
        runtimes.delete(gpu);
        throw new ReclmError("RECLM_ERR_ENGINE", `llama.cpp could not start (gpu: ${String(gpu)}): ${(e as Error).message}`, { field: "gpu" }, { cause: e });
      },
    );
    runtimes.set(gpu, runtime);
  }
  return runtime;
}

/** llama.cpp on CPU (prebuilt binaries only: never builds, never downloads). */
export function cpuLlama(): Promise<Llama> {
  return llamaRuntime(false);
}

/** The thread count a context gets: the option, else $RECLM_THREADS, else the runtime's physical cores. */
export function resolveThreads(llama: Llama, threads?: number): number {
  const env = process.env.RECLM_THREADS;
  const n = threads ?? (env !== undefined && env !== "" ? Number(env) : llama.cpuMathCores);
  if (!Number.isInteger(n) || n < 1) {
    const field = threads === undefined && env ? "RECLM_THREADS" : "threads";
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} must be a positive integer, got ${threads ?? env}`, { field });
  }
  // Asked for more than the shared cap: raise the cap rather than silently run with fewer threads than asked.
  if (llama.maxThreads !== 0 && n > llama.maxThreads) llama.maxThreads = n;
  return n;
}

/** What reclm remembers about a model it loaded: the file (reclm's own decoder reads it) and the runtime options. */
interface LoadedModel {
  file: string;
  options: LlmRuntimeOptions;
}

const loaded = new WeakMap<LlamaModel, LoadedModel>();

/**
 * Loads a GGUF model with llama.cpp. Contexts on it default to these runtime options. Dispose it when done.
 * `vocabOnly` loads the tokenizer without the weights (prompt building for reclm's own decoder, which reads the
 * weights itself).
 */
export async function loadLlamaCppModel(path: string, options: LlmRuntimeOptions & { vocabOnly?: boolean } = {}): Promise<LlamaModel> {
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "GGUF model file not found", { file: path });
  const llama = await llamaRuntime(options.gpu ?? false);
  resolveThreads(llama, options.threads); // a bad thread count fails here, before the weights load
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: path, vocabOnly: options.vocabOnly });
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `llama.cpp could not load the model (${(e as Error).message})`, { file: path }, { cause: e });
  }
  loaded.set(model, { file: resolve(path), options: { threads: options.threads, gpu: options.gpu } });
  return model;
}

/** The GGUF file a model was loaded from by `loadLlamaCppModel` (reclm's own decoder reads the weights from it). */
export function modelFile(model: LlamaModel): string {
  const info = loaded.get(model);
  if (!info) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "this model was not loaded with loadLlamaCppModel, so its GGUF file is unknown", { field: "model" });
  return info.file;
}

/**
 * The number of token ids the model knows (rows of token_embd). llama.cpp fails a whole batched decode on one bad id,
 * so requests check their tokens against this first: a bad prompt rejects that prompt only.
 */
export function vocabularySize(model: LlamaModel): number {
  const info = model.fileInfo as { fullTensorInfo?: { name: string; dimensions: readonly (number | bigint)[] }[]; metadata?: { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } } };
  const emb = info.fullTensorInfo?.find((t) => t.name === "token_embd.weight");
  const n = emb ? Number(emb.dimensions[1]) : info.metadata?.tokenizer?.ggml?.tokens?.length;
  if (!n) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "the model's vocabulary size is unknown (no token_embd.weight, no token list)", { file: loaded.get(model)?.file, field: "token_embd.weight" });
  return n;
}

/**
 * The thread count for a context on `model`: the context's own option, else the model's load option, else the
 * default. A context runs where its model was loaded, so a `gpu` that differs from the load's is refused, not ignored.
 */
export function contextThreads(model: LlamaModel, options: LlmRuntimeOptions = {}): number {
  const load = loaded.get(model)?.options;
  if (options.gpu !== undefined && options.gpu !== (load?.gpu ?? false)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `gpu ${String(options.gpu)} for a context of a model loaded with gpu ${String(load?.gpu ?? false)}; set it when loading the model`, { field: "gpu" });
  }
  return resolveThreads(model.llama, options.threads ?? load?.threads);
}

/**
 * llama.cpp's next-token probability distribution after every prefix of `tokens` (one forward pass over the
 * sequence): out[t] = P(· | tokens[0..t]), with a LoRA adapter file applied if given. For parity checks against
 * reclm's decoder.
 */
export async function llamaCppNextTokenProbabilities(
  model: LlamaModel,
  tokens: readonly number[],
  vocabSize: number,
  options: { loraFile?: string; threads?: number } = {},
): Promise<Float64Array[]> {
  // F32 KV cache and no flash attention: llama.cpp's defaults (F16 cache) would blur a parity check at ~1e-3.
  const context = await model.createContext({
    contextSize: Math.max(64, tokens.length + 8),
    threads: contextThreads(model, { threads: options.threads }),
    sequences: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    ...(options.loraFile ? { lora: { adapters: [{ filePath: options.loraFile }] } } : {}),
  });
  try {
    const seq = context.getSequence();
    const out = await seq.controlledEvaluate(tokens.map((t) => [t as never, { generateNext: { probabilities: true } }]));
    return out.map((o, i) => {
      const probs = o?.next?.probabilities;
      if (!probs) throw new ReclmError("RECLM_ERR_INTERNAL", `llama.cpp returned no probabilities at position ${i}`);
      const row = new Float64Array(vocabSize);
      for (const [tok, p] of probs) {
        if (Number(tok) >= vocabSize) throw new ReclmError("RECLM_ERR_INTERNAL", `llama.cpp token ${tok} outside the vocabulary of ${vocabSize}`);
        row[Number(tok)] = p;
      }
      return row;
    });
  } finally {
    await context.dispose();
  }
}

/** Whether the GGUF carries a chat template (tokenizer.chat_template): instruct models do, base models usually not. */
export function hasChatTemplate(model: LlamaModel): boolean {
  const t = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } } | undefined)?.tokenizer?.chat_template;
  return typeof t === "string" && t.length > 0;
}

/**
 * A single-turn chat prompt in the model's own template, as token ids: the user's message, then the start of the
 * assistant's turn (where the answer's first token goes). Rendered by node-llama-cpp's chat wrapper for the template
 * the GGUF carries; a model without one is refused (its prompt layout would be a guess).
 */
export function chatPromptTokens(model: LlamaModel, userText: string, systemText?: string): number[] {
  if (!hasChatTemplate(model)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the model has no chat template (tokenizer.chat_template): use the plain prompt layout", { file: loaded.get(model)?.file, field: "tokenizer.chat_template" });
  }
  const wrapper = resolveChatWrapper(model);
  const history = [...(systemText ? [{ type: "system" as const, text: systemText }] : []), { type: "user" as const, text: userText }, { type: "model" as const, response: [] }];
  const { contextText } = wrapper.generateContextState({ chatHistory: history });
  return contextText.tokenize(model.tokenizer).map(Number);
}

/** The token that ends an assistant turn: the end-of-turn token when the model has one, else end-of-sequence. */
export function endOfTurnToken(model: LlamaModel): number {
  const t = model.tokens.eot ?? model.tokens.eos;
  if (t === null) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the model defines neither an end-of-turn nor an end-of-sequence token", { file: loaded.get(model)?.file, field: "tokenizer" });
  return Number(t);
}
