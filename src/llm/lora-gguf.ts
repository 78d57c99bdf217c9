/**
 * LoRA adapters as llama.cpp's GGUF adapter files, both ways: a LoRA trained by reclm is written so that llama.cpp
 * (node-llama-cpp's `lora` context option) serves it on CPU or GPU, and an adapter trained elsewhere (PEFT/TRL,
 * converted with llama.cpp's convert_lora_to_gguf.py) is read back into reclm's decoder to evaluate or train further.
 *
 * Format (llama.cpp llama-adapter.cpp; convert_lora_to_gguf.py; /work/shared/research/llm-interop.md §1): metadata
 * general.type = "adapter", general.architecture = the base model's, adapter.type = "lora", adapter.lora.alpha (F32);
 * for each adapted matrix W ("blk.<i>.attn_q.weight", ...) two tensors W.lora_a [rank, in] and W.lora_b [out, rank]
 * (PyTorch order; ggml ne [in, rank] and [rank, out]), applied as W + (alpha / rank) · B·A, PEFT's convention and
 * reclm's. The converter names them by stripping PEFT's "base_model.model." and ".lora_A.weight"/".lora_B.weight"
 * and mapping the rest with the base architecture's tensor map (q_proj -> attn_q, down_proj -> ffn_down, ...).
 *
 * Row order of q and k: for the llama architecture the HF converter permutes the rows of q_proj/k_proj within each
 * head (LlamaModel.permute) so that llama.cpp's NORM rope (adjacent pairs) computes HF's rotate_half (halves), and
 * convert_lora_to_gguf.py applies the same permutation to lora_b of attn_q/attn_k (LoraTorchTensor moves only B;
 * lora_a's columns index the unpermuted input). So an adapter GGUF is already in llama.cpp's row order, which is
 * the order reclm's decoder reads the base GGUF in (NORM rope for llama): its factors load as they are. qwen2 is not
 * permuted on either side (NEOX rope). test/llm/lora-gguf.test.ts checks this equivalence.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { dequantize, type ParamStore } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import { gguf, writeGguf, type GgufTensorData } from "./gguf-writer.ts";
import { isLlamaArchitecture, LLAMA_PROJECTIONS, PROJECTION_TENSOR, type LlamaArchitecture, type LlamaModel, type LlamaProjection, type LoraOptions } from "./llama.ts";
import { readGgufHeader, type GgufTensor } from "./runtime.ts";

/** Writes the model's LoRA factors (as they are in `store`) as a llama.cpp GGUF adapter, atomically. */
export function writeLoraGguf(path: string, store: ParamStore, model: LlamaModel, name = "reclm LoRA adapter"): void {
  if (!model.lora || model.params.lora.size === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the model has no LoRA adapters to write", { field: "lora" });
  const tensors: GgufTensorData[] = [];
  for (const { a, b, base } of model.params.lora.values()) {
    tensors.push({ name: `${base.name}.lora_a`, shape: a.shape, data: store.read(a) });
    tensors.push({ name: `${base.name}.lora_b`, shape: b.shape, data: store.read(b) });
  }
  writeGguf(
    path,
    {
      // llama.cpp refuses an adapter whose architecture is not its base model's ("model arch and LoRA arch mismatch").
      "general.architecture": gguf.str(model.config.architecture),
      "general.type": gguf.str("adapter"),
      "general.name": gguf.str(name),
      "adapter.type": gguf.str("lora"),
      "adapter.lora.alpha": gguf.f32(model.lora.alpha),
    },
    tensors,
  );
}

/** A LoRA adapter read from a GGUF file: what it adapts, inferred from its tensors, and the factors' values. */
export interface LoraAdapter {
  file: string;
  architecture: LlamaArchitecture;
  /** Rank, alpha, targets and layers as the file has them: declare the model with these (dropout is the caller's). */
  lora: LoraOptions;
  /** "blk.<i>.<target>" -> A [rank, in] and B [out, rank], PyTorch order, as F32. */
  factors: Map<string, { a: Float32Array; b: Float32Array; in: number; out: number }>;
}

const GGML_F32 = 0;
const GGML_F16 = 1;
const STEM_PROJECTION = new Map<string, LlamaProjection>(LLAMA_PROJECTIONS.map((p) => [PROJECTION_TENSOR[p], p]));

/**
 * Reads a llama.cpp LoRA adapter (as convert_lora_to_gguf.py or `writeLoraGguf` writes it; F32 or F16 factors) and
 * infers what it adapts. Refused, naming the tensor or key: not an adapter, an architecture reclm's decoder does not
 * run, a tensor that is not a LoRA factor (the converter also writes mergekit's `*_norm.weight`, which llama.cpp
 * skips: reclm will not run a different model than the adapter's), an adapter on token_embd or output (reclm adapts
 * the block projections only), an incomplete pair, factors whose shapes do not pair up, mixed ranks, and a set of
 * adapted matrices that is not the same projections in every adapted block.
 */
export async function readLoraGguf(path: string): Promise<LoraAdapter> {
  const h = await readGgufHeader(path);
  const fail = (why: string, field: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", why, { file: path, field });
  if (h.metadata["general.type"] !== "adapter") throw fail(`not a LoRA adapter (general.type is ${JSON.stringify(h.metadata["general.type"])})`, "general.type");
  if (h.metadata["adapter.type"] !== "lora") throw fail(`not a LoRA adapter (adapter.type is ${JSON.stringify(h.metadata["adapter.type"])})`, "adapter.type");
  const architecture = h.architecture;
  if (!isLlamaArchitecture(architecture)) throw fail(`adapter for architecture "${architecture}", which reclm's decoder does not run`, "general.architecture");

  const pairs = new Map<string, { a?: GgufTensor; b?: GgufTensor; layer: number; target: LlamaProjection }>();
  for (const t of h.tensors) {
    const m = /^(.*)\.lora_(a|b)$/.exec(t.name);
    if (!m) throw fail(`tensor "${t.name}" is not a LoRA factor (.lora_a / .lora_b)${t.name.endsWith("_norm.weight") ? "; llama.cpp skips such norm weights, which would run another model than the adapter's" : ""}`, t.name);
    const base = m[1];
    if (base === "token_embd.weight" || base === "output.weight") throw fail(`tensor "${t.name}" adapts ${base}; reclm's decoder applies LoRA to the block projections only`, t.name);
    const bm = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(base);
    const target = bm ? STEM_PROJECTION.get(bm[2]) : undefined;
    if (!bm || !target) throw fail(`tensor "${t.name}" adapts "${base}", not a block projection reclm's decoder adapts (${[...STEM_PROJECTION.keys()].join(", ")})`, t.name);
    if (t.ggmlType !== GGML_F32 && t.ggmlType !== GGML_F16) throw fail(`tensor "${t.name}" is ggml type ${t.ggmlType}; LoRA factors are read as F32 or F16`, t.name);
    if (t.shape.length !== 2) throw fail(`tensor "${t.name}" has shape [${t.shape}]; a LoRA factor is a matrix`, t.name);
    const pair = pairs.get(base) ?? { layer: Number(bm[1]), target };
    pair[m[2] as "a" | "b"] = t;
    pairs.set(base, pair);
  }
  if (pairs.size === 0) throw fail("the adapter has no LoRA tensors", "tensors");

  let rank: number | undefined;
  let rankFrom = "";
  for (const [base, p] of pairs) {
    if (!p.a || !p.b) throw fail(`"${base}.lora_${p.a ? "b" : "a"}" is missing (its "${base}.lora_${p.a ? "a" : "b"}" is here)`, `${base}.lora_${p.a ? "b" : "a"}`);
    // a [rank, in], b [out, rank]: llama.cpp's "lora_a tensor is not transposed" check
    if (p.a.shape[0] !== p.b.shape[1]) throw fail(`"${base}.lora_a" [${p.a.shape}] and "${base}.lora_b" [${p.b.shape}] do not pair as [rank, in] and [out, rank]`, `${base}.lora_a`);
    if (rank === undefined) [rank, rankFrom] = [p.a.shape[0], base];
    else if (p.a.shape[0] !== rank) throw fail(`"${base}" has rank ${p.a.shape[0]}, "${rankFrom}" rank ${rank}: reclm's LoRA has one rank`, `${base}.lora_a`);
  }
  const layers = [...new Set([...pairs.values()].map((p) => p.layer))].sort((x, y) => x - y);
  const targets = LLAMA_PROJECTIONS.filter((t) => [...pairs.values()].some((p) => p.target === t));
  for (const l of layers) {
    for (const t of targets) {
      const base = `blk.${l}.${PROJECTION_TENSOR[t]}.weight`;
      if (!pairs.has(base)) throw fail(`"${base}.lora_a" is missing: reclm's LoRA adapts the same projections (${targets.join(", ")}) in every adapted block`, `${base}.lora_a`);
    }
  }
  // llama.cpp: an alpha of 0 (or none) scales by 1, i.e. alpha = rank.
  const alphaValue = h.metadata["adapter.lora.alpha"];
  if (alphaValue !== undefined && !(typeof alphaValue === "number" && Number.isFinite(alphaValue))) throw fail(`adapter.lora.alpha is ${JSON.stringify(alphaValue)}, not a number`, "adapter.lora.alpha");
  const alpha = typeof alphaValue === "number" && alphaValue !== 0 ? alphaValue : rank!;

  const factors: LoraAdapter["factors"] = new Map();
  const fd = openSync(path, "r");
  try {
    const values = (t: GgufTensor): Float32Array => {
      const n = t.shape[0] * t.shape[1];
      const raw = new Uint8Array(n * (t.ggmlType === GGML_F32 ? 4 : 2));
      if (readSync(fd, raw, 0, raw.length, t.fileOffset) !== raw.length) throw fail(`tensor "${t.name}" is truncated`, t.name);
      return t.ggmlType === GGML_F32 ? new Float32Array(raw.buffer) : dequantize(GGML_F16, raw, n);
    };
    for (const p of pairs.values()) factors.set(`blk.${p.layer}.${p.target}`, { a: values(p.a!), b: values(p.b!), in: p.a!.shape[1], out: p.b!.shape[0] });
  } finally {
    closeSync(fd);
  }
  return { file: path, architecture, lora: { rank: rank!, alpha, targets, layers }, factors };
}

/**
 * Writes an adapter's factors into a model declared with its LoRA (`adapter.lora`; dropout may differ): same
 * architecture, rank, alpha, targets and layers, and factor shapes that fit the model's projections, or an error
 * naming what differs.
 */
export function loadLoraAdapter(store: ParamStore, model: LlamaModel, adapter: LoraAdapter): void {
  const fail = (why: string, field: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", why, { file: adapter.file, field });
  if (adapter.architecture !== model.config.architecture) throw fail(`adapter for architecture "${adapter.architecture}", the model is ${model.config.architecture}`, "general.architecture");
  const lora = model.lora;
  if (!lora) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "declare the model with the adapter's LoRA (adapter.lora) before loading it", { field: "lora" });
  if (lora.rank !== adapter.lora.rank) throw fail(`the adapter's rank is ${adapter.lora.rank}, the model's ${lora.rank}`, "lora.rank");
  if (Math.abs(lora.alpha - adapter.lora.alpha) > 1e-6 * Math.max(1, Math.abs(lora.alpha))) throw fail(`the adapter's alpha ${adapter.lora.alpha} differs from the model's ${lora.alpha}`, "adapter.lora.alpha");
  const keys = [...model.params.lora.keys()].sort().join(", ");
  const fileKeys = [...adapter.factors.keys()].sort().join(", ");
  if (keys !== fileKeys) throw fail(`the adapter adapts ${fileKeys}; the model was declared with LoRA on ${keys}`, "lora.targets");
  for (const [key, f] of adapter.factors) {
    const { a, b, base } = model.params.lora.get(key)!;
    const [out, inp] = base.shape;
    if (f.in !== inp || f.out !== out) throw fail(`"${base.name}.lora_a"/"lora_b" adapt a [${f.out}, ${f.in}] matrix; the model's ${base.name} is [${out}, ${inp}]`, `${base.name}.lora_a`);
    store.write(a, f.a);
    store.write(b, f.b);
  }
}
