/**
 * The one module that imports node-llama-cpp (docs/ARCHITECTURE.md): reading GGUF headers, and llama.cpp inference
 * on CPU for reference logits. reclm's own decoder (llama.ts) trains on the engine; this is the other half of the
 * "one engine" (ggml) story: the same GGUF, run by llama.cpp.
 */
import { getLlama, readGgufFileInfo, type Llama, type LlamaModel } from "node-llama-cpp";
import { existsSync } from "node:fs";
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

let llama: Promise<Llama> | undefined;

/** llama.cpp on CPU (prebuilt binaries only: never builds, never downloads). */
export function cpuLlama(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  return llama;
}

/**
 * Loads a GGUF model with llama.cpp (CPU). Dispose it when done. `vocabOnly` loads the tokenizer without the weights
 * (prompt building for reclm's own decoder, which reads the weights itself).
 */
export async function loadLlamaCppModel(path: string, options: { vocabOnly?: boolean } = {}): Promise<LlamaModel> {
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "GGUF model file not found", { file: path });
  return (await cpuLlama()).loadModel({ modelPath: path, vocabOnly: options.vocabOnly });
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
  options: { loraFile?: string } = {},
): Promise<Float64Array[]> {
  // F32 KV cache and no flash attention: llama.cpp's defaults (F16 cache) would blur a parity check at ~1e-3.
  const context = await model.createContext({
    contextSize: Math.max(64, tokens.length + 8),
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

/** Options of a next-token scorer: how many prompts llama.cpp evaluates side by side, and the context per prompt. */
export interface NextTokenScorerOptions {
  /** Prompts evaluated in one batch (llama.cpp sequences of one context). Defaults to 4. */
  parallel?: number;
  /** Tokens per prompt the context holds. Defaults to 2048. */
  contextSize?: number;
}

/**
 * A verbalizer's forward: for each prompt (token ids), the log-probabilities of the given candidate tokens as the next
 * token after the prompt's last position, in ONE forward pass per prompt and no generation (LlamaRec ranks its 20
 * candidates by the logits of the letters A..T there; log p differs from the raw logit by one constant per prompt,
 * so the ranking is the same). Runs on llama.cpp with any GGUF node-llama-cpp loads.
 */
export class NextTokenScorer {
  private constructor(
    private readonly context: Awaited<ReturnType<LlamaModel["createContext"]>>,
    private readonly contextSize: number,
  ) {}

  static async create(model: LlamaModel, options: NextTokenScorerOptions = {}): Promise<NextTokenScorer> {
    const parallel = options.parallel ?? 4;
    const contextSize = options.contextSize ?? 2048;
    if (!Number.isInteger(parallel) || parallel < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `parallel must be a positive integer, got ${parallel}`, { field: "parallel" });
    const context = await model.createContext({ contextSize: contextSize * parallel, sequences: parallel, flashAttention: false });
    return new NextTokenScorer(context, contextSize);
  }

  /** out[i][j] = log P(candidates[j] | prompts[i]). */
  async score(prompts: readonly (readonly number[])[], candidates: readonly number[]): Promise<Float64Array[]> {
    for (const c of candidates) {
      if (!Number.isInteger(c) || c < 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `candidate token ${c} is not a token id`, { field: "candidates" });
    }
    const out: Float64Array[] = new Array(prompts.length);
    let next = 0;
    const worker = async () => {
      const seq = this.context.getSequence();
      try {
        for (let i = next++; i < prompts.length; i = next++) {
          const tokens = prompts[i];
          if (tokens.length === 0 || tokens.length > this.contextSize) {
            throw new ReclmError("RECLM_ERR_BAD_CONFIG", `prompt ${i} has ${tokens.length} tokens; 1..${this.contextSize} fit`, { field: "prompts" });
          }
          const items = tokens.map((t, k) => (k === tokens.length - 1 ? ([t, { generateNext: { probabilities: true } }] as const) : t));
          const res = await seq.controlledEvaluate(items as never);
          const probs = res[tokens.length - 1]?.next?.probabilities;
          if (!probs) throw new ReclmError("RECLM_ERR_INTERNAL", `llama.cpp returned no next-token distribution for prompt ${i}`);
          // The distribution covers the whole vocabulary: a candidate missing from it is not a token of this model.
          out[i] = Float64Array.from(candidates, (c) => {
            const p = probs.get(c as never);
            if (p === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `candidate token ${c} is outside the model's vocabulary of ${probs.size}`, { field: "candidates" });
            return Math.log(p);
          });
          await seq.clearHistory();
        }
      } finally {
        seq.dispose();
      }
    };
    const n = Math.min(this.context.sequencesLeft, prompts.length);
    // Another score() still holds every sequence: running none would return an empty result, not an error.
    if (n === 0 && prompts.length > 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "score() calls on one NextTokenScorer must not overlap; await the previous one", { field: "score" });
    await Promise.all(Array.from({ length: n }, worker));
    return out;
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
  }
}
