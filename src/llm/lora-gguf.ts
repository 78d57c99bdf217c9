/**
 * LoRA adapters as llama.cpp's GGUF adapter files, both ways: a LoRA trained by reclm is written so that llama.cpp
 * (node-llama-cpp's `lora` context option) serves it on CPU or GPU, and an adapter trained elsewhere (PEFT/TRL,
 * converted with llama.cpp's convert_lora_to_gguf.py) is read back into reclm's decoder to evaluate or train further.
 *
 * Format (llama.cpp llama-adapter.cpp): metadata general.type = "adapter", adapter.type = "lora",
 * adapter.lora.alpha; for each adapted matrix W ("blk.<i>.attn_q.weight", ...) two tensors W.lora_a [rank, in] and
 * W.lora_b [out, rank] (PyTorch order), applied as W + (alpha / rank) · B·A, PEFT's convention and reclm's.
 */
import { closeSync, openSync, readSync } from "node:fs";
import type { ParamStore } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import { gguf, writeGguf, type GgufTensorData } from "./gguf-writer.ts";
import type { LlamaModel } from "./llama.ts";
import { readGgufHeader } from "./runtime.ts";

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

/**
 * Reads a GGUF LoRA adapter into the model's LoRA factors. The model must have been declared with the same targets
 * and rank, and the file's alpha must equal the model's: anything else is an error naming the file and field.
 */
export async function readLoraGguf(path: string, store: ParamStore, model: LlamaModel): Promise<void> {
  const h = await readGgufHeader(path);
  const fail = (why: string, field: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", why, { file: path, field });
  if (h.metadata["general.type"] !== "adapter" || h.metadata["adapter.type"] !== "lora") throw fail("not a LoRA adapter (general.type / adapter.type)", "adapter.type");
  if (h.architecture !== model.config.architecture) throw fail(`adapter for architecture "${h.architecture}", the model is ${model.config.architecture}`, "general.architecture");
  if (!model.lora) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "declare the model with LoRA (targets, rank, alpha) before reading an adapter into it", { field: "lora" });
  const alpha = h.metadata["adapter.lora.alpha"];
  if (typeof alpha !== "number" || Math.abs(alpha - model.lora.alpha) > 1e-6 * Math.max(1, Math.abs(alpha))) {
    throw fail(`alpha ${String(alpha)} differs from the model's ${model.lora.alpha}`, "adapter.lora.alpha");
  }
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const expected = new Set<string>();
  const fd = openSync(path, "r");
  try {
    for (const [key, factors] of model.params.lora) {
      for (const [suffix, p] of [["lora_a", factors.a], ["lora_b", factors.b]] as const) {
        const name = `${factors.base.name}.${suffix}`;
        expected.add(name);
        const t = byName.get(name);
        if (!t) throw fail(`no tensor "${name}" (the model adapts ${key})`, name);
        if (t.ggmlType !== 0) throw fail(`tensor "${name}" is ggml type ${t.ggmlType}; adapters are read as F32`, name);
        if (t.shape.join("x") !== p.shape.join("x")) throw fail(`tensor "${name}" has shape [${t.shape}], the model's is [${p.shape}] (rank ${model.lora.rank})`, name);
        const data = new Float32Array(p.numel);
        if (readSync(fd, new Uint8Array(data.buffer), 0, data.byteLength, t.fileOffset) !== data.byteLength) throw fail(`tensor "${name}" is truncated`, name);
        store.write(p, data);
      }
    }
  } finally {
    closeSync(fd);
  }
  const extra = h.tensors.map((t) => t.name).filter((n) => !expected.has(n));
  if (extra.length) throw fail(`adapts matrices the model has no LoRA for: ${extra.slice(0, 4).join(", ")}${extra.length > 4 ? ", ..." : ""}`, extra[0]);
}
