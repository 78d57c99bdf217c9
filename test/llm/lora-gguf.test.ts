import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../src/engine/index.ts";
import { encodeGguf, gguf, type GgufTensorData } from "../../src/llm/gguf-writer.ts";
import { declareLlama, declareLlamaFromGguf, LLAMA_PROJECTIONS, PROJECTION_TENSOR, type LlamaConfig, type LlamaModel, type LlamaProjection, type LoraOptions } from "../../src/llm/llama.ts";
import { loadLoraAdapter, readLoraGguf, writeLoraGguf } from "../../src/llm/lora-gguf.ts";
import { llamaCppNextTokenProbabilities, loadLlamaCppModel, readGgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf, type TinyLlamaOptions } from "../../src/llm/tiny-llama.ts";
import { writeFileAtomic } from "../../src/io.ts";
import { Rng } from "../../src/rng.ts";
import { decoderLogProbs } from "../helpers/decoder.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-lora-gguf-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const LORA: LoraOptions = { rank: 2, alpha: 6, targets: ["q", "v", "down"] };

async function declare(file: string, lora: LoraOptions = LORA): Promise<{ store: ParamStore; lm: LlamaModel }> {
  const store = new ParamStore(engine);
  const lm = declareLlamaFromGguf(store, await readGgufHeader(file), file, { lora });
  store.initialize(new Rng(0));
  return { store, lm };
}

const maxGap = (a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]) => {
  let worst = 0;
  a.forEach((row, t) => {
    for (let i = 0; i < row.length; i++) worst = Math.max(worst, Math.abs(row[i] - b[t][i]));
  });
  return worst;
};

/** reclm's and llama.cpp's next-token probabilities over `tokens`, the adapter applied on both sides. */
async function withAdapter(base: string, adapter: string, tokens: number[]) {
  const a = await readLoraGguf(adapter);
  const { store, lm } = await declare(base, a.lora);
  loadLoraAdapter(store, lm, a);
  const ours = decoderLogProbs(engine, store, lm, tokens).map((row) => row.map(Math.exp));
  store.dispose();
  const cpp = await loadLlamaCppModel(base);
  try {
    const V = lm.config.vocabSize;
    return { ours, adapted: await llamaCppNextTokenProbabilities(cpp, tokens, V, { loraFile: adapter }), plain: await llamaCppNextTokenProbabilities(cpp, tokens, V) };
  } finally {
    await cpp.dispose();
  }
}

describe("LoRA adapters as llama.cpp GGUF adapter files", () => {
  it("an adapter reclm writes changes llama.cpp's distributions exactly as reclm's forward predicts; it reads back", async () => {
    const base = join(dir, "base.gguf");
    const config = writeTinyLlamaGguf(base, { seed: 9 });
    const { store, lm } = await declare(base);
    // trained-looking factors: B != 0, so the adapter really changes the model
    const r = new Rng(4);
    for (const { a, b } of lm.params.lora.values()) {
      store.write(a, Float32Array.from({ length: a.numel }, () => 0.5 * r.normal()));
      store.write(b, Float32Array.from({ length: b.numel }, () => 0.5 * r.normal()));
    }
    const adapter = join(dir, "adapter.gguf");
    writeLoraGguf(adapter, store, lm);
    const tokens = [1, ...Array.from({ length: 15 }, () => r.int(3, config.vocabSize))];
    const { ours, adapted, plain } = await withAdapter(base, adapter, tokens);
    expect(maxGap(adapted, plain)).toBeGreaterThan(1e-2); // the adapter does something in llama.cpp...
    expect(maxGap(adapted, ours)).toBeLessThan(2e-5); // ...exactly what it does in reclm (F32 weights, F32 KV cache)

    // read back: rank, alpha, targets and layers inferred from the file; the same factors
    const back = await readLoraGguf(adapter);
    expect(back.lora).toEqual({ rank: 2, alpha: 6, targets: ["q", "v", "down"], layers: [0, 1] });
    expect(back.architecture).toBe("llama");
    for (const [key, { a, b }] of lm.params.lora) {
      expect(Array.from(back.factors.get(key)!.a)).toEqual(Array.from(store.read(a)));
      expect(Array.from(back.factors.get(key)!.b)).toEqual(Array.from(store.read(b)));
    }
    // a model declared with another LoRA is refused, naming the file and what differs
    const otherAlpha = await declare(base, { ...LORA, alpha: 8 });
    expect(() => loadLoraAdapter(otherAlpha.store, otherAlpha.lm, back)).toThrow(/adapter\.gguf.*the adapter's alpha 6 differs from the model's 8/);
    const otherRank = await declare(base, { ...LORA, rank: 3 });
    expect(() => loadLoraAdapter(otherRank.store, otherRank.lm, back)).toThrow(/the adapter's rank is 2, the model's 3/);
    const fewer = await declare(base, { ...LORA, targets: ["q", "v"] });
    expect(() => loadLoraAdapter(fewer.store, fewer.lm, back)).toThrow(/the adapter adapts blk\.0\.down.*declared with LoRA on blk\.0\.q, blk\.0\.v/);
    await expect(readLoraGguf(base)).rejects.toThrow(/not a LoRA adapter \(general\.type is undefined\)/);
    for (const s of [store, otherAlpha.store, otherRank.store, fewer.store]) s.dispose();
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Adapters as llama.cpp's convert_lora_to_gguf.py writes them from a PEFT checkpoint

/** The PEFT module (adapter_model.safetensors key) of each GGUF projection, as the converter's tensor map pairs them. */
const PEFT_MODULE: Record<LlamaProjection, string> = {
  q: "self_attn.q_proj",
  k: "self_attn.k_proj",
  v: "self_attn.v_proj",
  o: "self_attn.o_proj",
  gate: "mlp.gate_proj",
  up: "mlp.up_proj",
  down: "mlp.down_proj",
};

/**
 * convert_hf_to_gguf.py LlamaModel.permute: within each of `heads` heads, HF's row order (the two rotated halves)
 * becomes llama.cpp's (adjacent pairs): GGUF row h·Dh + 2j + s = HF row h·Dh + s·Dh/2 + j. `inverse` undoes it.
 */
function permuteRows(w: Float32Array, cols: number, heads: number, inverse = false): Float32Array {
  const rows = w.length / cols, dh = rows / heads, out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < dh / 2; j++) {
      for (let s = 0; s < 2; s++) {
        const [gg, hf] = [h * dh + 2 * j + s, h * dh + s * (dh / 2) + j];
        const [to, from] = inverse ? [hf, gg] : [gg, hf];
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

type Factors = Map<string, { a: Float32Array; b: Float32Array; aShape: number[]; bShape: number[] }>;

/** PEFT-side factors (HF row order) for `targets` in `layers` of a model of `config`: A [r, in], B [out, r]. */
function peftFactors(config: LlamaConfig, targets: readonly LlamaProjection[], layers: readonly number[], rank: number, seed: number): Factors {
  const r = new Rng(seed);
  const q = config.heads * config.headDim, kv = config.kvHeads * config.headDim;
  const dims: Record<LlamaProjection, [number, number]> = { q: [q, config.dim], k: [kv, config.dim], v: [kv, config.dim], o: [config.dim, q], gate: [config.ffnDim, config.dim], up: [config.ffnDim, config.dim], down: [config.dim, config.ffnDim] };
  const out: Factors = new Map();
  for (const l of layers) {
    for (const t of targets) {
      const [o, i] = dims[t];
      const rand = (n: number) => Float32Array.from({ length: n }, () => 0.5 * r.normal());
      out.set(`blk.${l}.${t}`, { a: rand(rank * i), b: rand(o * rank), aShape: [rank, i], bShape: [o, rank] });
    }
  }
  return out;
}

/**
 * The adapter file convert_lora_to_gguf.py writes for these PEFT factors: its metadata keys in its order (gguf-py
 * writes general.architecture first, no general.alignment for the default 32; the model card's general.* keys;
 * adapter.lora.alpha as F32; general.quantization_version last), the tensors in the order of the checkpoint's sorted
 * keys, lora_a then lora_b, and for llama lora_b of attn_q/attn_k permuted like the base weights.
 */
function writeConverterAdapter(path: string, config: LlamaConfig, factors: Factors, alpha: number, types: { a: "f32" | "f16"; b: "f32" | "f16" }): void {
  const peftKey = (key: string) => {
    const [, l, t] = key.split(".");
    return `base_model.model.model.layers.${l}.${PEFT_MODULE[t as LlamaProjection]}`;
  };
  const tensors: GgufTensorData[] = [];
  for (const key of [...factors.keys()].sort((x, y) => (peftKey(x) < peftKey(y) ? -1 : 1))) {
    const f = factors.get(key)!;
    const [, l, t] = key.split(".") as [string, string, LlamaProjection];
    const name = `blk.${l}.${PROJECTION_TENSOR[t]}.weight`;
    const permute = config.architecture === "llama" && (t === "q" || t === "k");
    const b = permute ? permuteRows(f.b, f.bShape[1], t === "q" ? config.heads : config.kvHeads) : f.b;
    tensors.push({ name: `${name}.lora_a`, shape: f.aShape, data: f.a, type: types.a });
    tensors.push({ name: `${name}.lora_b`, shape: f.bShape, data: b, type: types.b });
  }
  const metadata = {
    "general.architecture": gguf.str(config.architecture),
    "general.type": gguf.str("adapter"),
    "adapter.type": gguf.str("lora"),
    "general.name": gguf.str("Tiny Rec Lora"),
    "general.finetune": gguf.str("rec-lora"),
    "general.basename": gguf.str("tiny"),
    "general.size_label": gguf.str("1.2K"),
    "general.license": gguf.str("apache-2.0"),
    "general.base_model.count": gguf.u32(1),
    "general.base_model.0.name": gguf.str("Tiny"),
    "general.base_model.0.organization": gguf.str("Reclm"),
    "general.base_model.0.repo_url": gguf.str("https://huggingface.co/reclm/tiny"),
    "general.tags": gguf.strings(["base_model:adapter:reclm/tiny", "lora", "transformers"]),
    "adapter.lora.alpha": gguf.f32(alpha),
    "general.quantization_version": gguf.u32(2),
  };
  writeFileAtomic(path, encodeGguf(metadata, tensors, { alignmentKey: false }));
}

describe("adapters from PEFT as convert_lora_to_gguf.py writes them", () => {
  const kinds: { name: string; model: TinyLlamaOptions; targets: LlamaProjection[]; layers: number[]; rank: number; types: { a: "f32" | "f16"; b: "f32" | "f16" } }[] = [
    // llama: q and k among the targets, so the converter's lora_b permutation is exercised; F32 factors
    { name: "llama", model: { seed: 31, heads: 4, kvHeads: 2 }, targets: ["q", "k", "v", "o"], layers: [0, 1], rank: 3, types: { a: "f32", b: "f32" } },
    // qwen2 (no permutation): the MLP of the second block only (PEFT layers_to_transform), F16 factors
    { name: "qwen2", model: { seed: 32, architecture: "qwen2", heads: 4, kvHeads: 1 }, targets: ["gate", "up", "down"], layers: [1], rank: 5, types: { a: "f16", b: "f16" } },
  ];
  for (const kind of kinds) {
    it(`${kind.name}: targets, layers and rank are read from the file, and reclm with it equals llama.cpp with it`, async () => {
      const base = join(dir, `${kind.name}-base.gguf`);
      const config = writeTinyLlamaGguf(base, kind.model);
      const adapter = join(dir, `${kind.name}-peft.gguf`);
      writeConverterAdapter(adapter, config, peftFactors(config, kind.targets, kind.layers, kind.rank, 5), 16, kind.types);
      const read = await readLoraGguf(adapter);
      expect(read.lora).toEqual({ rank: kind.rank, alpha: 16, targets: kind.targets, layers: kind.layers });
      const r = new Rng(6);
      const tokens = [1, ...Array.from({ length: 17 }, () => r.int(3, config.vocabSize))];
      const { ours, adapted, plain } = await withAdapter(base, adapter, tokens);
      expect(maxGap(adapted, plain)).toBeGreaterThan(1e-2);
      // F32 factors: float rounding only (measured 3.6e-8). F16 factors: both read the same halves, but llama.cpp
      // multiplies F16 tensors with activations rounded to F16 (measured 1.1e-4; 2.2e-7 with the same values as F32),
      // gguf-writer.test.ts's F16 tolerance.
      expect(maxGap(adapted, ours)).toBeLessThan(kind.types.a === "f32" ? 2e-5 : 5e-4);
    }, 60_000);
  }

  it("llama: the converter's q/k permutation puts a PEFT adapter in the order of reclm's GGUF weights (NEOX over HF order = NORM over GGUF order)", async () => {
    const base = join(dir, "perm-base.gguf");
    const config = writeTinyLlamaGguf(base, { seed: 33, heads: 4, kvHeads: 2 });
    const factors = peftFactors(config, LLAMA_PROJECTIONS, [0, 1], 2, 7);
    const adapter = join(dir, "perm-peft.gguf");
    writeConverterAdapter(adapter, config, factors, 4, { a: "f32", b: "f32" });
    const read = await readLoraGguf(adapter);
    // reclm on the GGUF: llama, NORM rope, converted (permuted) adapter
    const gg = await declare(base, read.lora);
    loadLoraAdapter(gg.store, gg.lm, read);
    // the same model in HF order: q/k rows un-permuted, HF's NEOX (rotate_half) rope; qwen2 is the llama-family
    // architecture reclm runs with NEOX rope, its required q/k/v biases set to 0
    const hf = new ParamStore(engine);
    const hfConfig: LlamaConfig = { ...config, architecture: "qwen2", ropeMode: "neox", biases: ["q", "k", "v"] };
    const hfLm = declareLlama(
      hf,
      hfConfig,
      (name, shape) => {
        if (name.endsWith(".bias")) return new Float32Array(shape[0]);
        const w = gg.store.read(name);
        if (/attn_q\.weight$/.test(name)) return permuteRows(w, config.dim, config.heads, true);
        if (/attn_k\.weight$/.test(name)) return permuteRows(w, config.dim, config.kvHeads, true);
        return w;
      },
      { lora: read.lora },
    );
    hf.initialize(new Rng(0));
    for (const [key, { a, b }] of hfLm.params.lora) {
      hf.write(a, factors.get(key)!.a);
      hf.write(b, factors.get(key)!.b);
    }
    const tokens = [1, 40, 7, 99, 3, 250, 18, 18, 5, 61];
    const probs = (store: ParamStore, lm: LlamaModel) => decoderLogProbs(engine, store, lm, tokens).map((row) => row.map(Math.exp));
    const hfProbs = probs(hf, hfLm);
    expect(maxGap(probs(gg.store, gg.lm), hfProbs)).toBeLessThan(1e-5); // measured 5.3e-7 (dot products summed in another order)
    // without the converter's permutation of lora_b, the GGUF model would be another model
    const unpermuted = await declare(base, read.lora);
    for (const [key, { a, b }] of unpermuted.lm.params.lora) {
      unpermuted.store.write(a, factors.get(key)!.a);
      unpermuted.store.write(b, factors.get(key)!.b);
    }
    expect(maxGap(probs(unpermuted.store, unpermuted.lm), hfProbs)).toBeGreaterThan(1e-2); // measured 0.11
    for (const s of [gg.store, hf, unpermuted.store]) s.dispose();
  }, 60_000);

  it("refuses what it cannot apply as the file means, naming the tensor or key", async () => {
    const config = writeTinyLlamaGguf(join(dir, "e-base.gguf"), { seed: 34 });
    const ok = peftFactors(config, ["q", "v"], [0, 1], 2, 8);
    const file = join(dir, "bad.gguf");
    const adapterWith = (edit: (t: GgufTensorData[]) => GgufTensorData[], meta: Record<string, ReturnType<typeof gguf.str>> = {}) => {
      const tensors: GgufTensorData[] = [...ok].flatMap(([key, f]) => {
        const [, l, t] = key.split(".");
        const name = `blk.${l}.${PROJECTION_TENSOR[t as LlamaProjection]}.weight`;
        return [{ name: `${name}.lora_a`, shape: f.aShape, data: f.a }, { name: `${name}.lora_b`, shape: f.bShape, data: f.b }];
      });
      const metadata = { "general.architecture": gguf.str("llama"), "general.type": gguf.str("adapter"), "adapter.type": gguf.str("lora"), "adapter.lora.alpha": gguf.f32(4), ...meta };
      writeFileAtomic(file, encodeGguf(metadata, edit(tensors)));
      return readLoraGguf(file);
    };
    const same = (t: GgufTensorData[]) => t;
    await expect(adapterWith(same, { "general.architecture": gguf.str("gemma2") })).rejects.toThrow(/adapter for architecture "gemma2", which reclm's decoder does not run/);
    await expect(adapterWith(same, { "adapter.type": gguf.str("control_vector") })).rejects.toThrow(/field "adapter\.type": not a LoRA adapter/);
    await expect(adapterWith((t) => t.filter((x) => x.name !== "blk.1.attn_v.weight.lora_b"))).rejects.toThrow(/"blk\.1\.attn_v\.weight\.lora_b" is missing \(its "blk\.1\.attn_v\.weight\.lora_a" is here\)/);
    await expect(adapterWith((t) => t.filter((x) => !x.name.startsWith("blk.1.attn_v")))).rejects.toThrow(/"blk\.1\.attn_v\.weight\.lora_a" is missing: reclm's LoRA adapts the same projections \(q, v\) in every adapted block/);
    const transposed = (t: GgufTensorData[]) => t.map((x) => (x.name === "blk.0.attn_q.weight.lora_a" ? { ...x, shape: [...x.shape].reverse() } : x));
    await expect(adapterWith(transposed)).rejects.toThrow(/"blk\.0\.attn_q\.weight\.lora_a" \[32,2\] and "blk\.0\.attn_q\.weight\.lora_b" \[32,2\] do not pair/);
    const extra = (name: string, shape: number[]) => (t: GgufTensorData[]) => [...t, { name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }];
    await expect(adapterWith(extra("token_embd.weight.lora_a", [2, config.vocabSize]))).rejects.toThrow(/"token_embd\.weight\.lora_a" adapts token_embd\.weight; reclm's decoder applies LoRA to the block projections only/);
    await expect(adapterWith(extra("output.weight.lora_b", [config.vocabSize, 2]))).rejects.toThrow(/adapts output\.weight/);
    await expect(adapterWith(extra("blk.0.attn_norm.weight", [32]))).rejects.toThrow(/"blk\.0\.attn_norm\.weight" is not a LoRA factor.*llama\.cpp skips such norm weights/);
    await expect(adapterWith(extra("blk.0.attn_q_norm.weight.lora_a", [2, 8]))).rejects.toThrow(/adapts "blk\.0\.attn_q_norm\.weight", not a block projection/);
    const rank3 = peftFactors(config, ["k"], [0, 1], 3, 9);
    await expect(adapterWith((t) => [...t, ...[...rank3].flatMap(([key, f]) => [{ name: `blk.${key.split(".")[1]}.attn_k.weight.lora_a`, shape: f.aShape, data: f.a }, { name: `blk.${key.split(".")[1]}.attn_k.weight.lora_b`, shape: f.bShape, data: f.b }])])).rejects.toThrow(/rank 3, "blk\.0\.attn_q\.weight" rank 2: reclm's LoRA has one rank/);
    const q8 = (t: GgufTensorData[]) => [...t.filter((x) => !x.name.startsWith("blk.0.attn_q") && !x.name.startsWith("blk.1.attn_q")), { name: "blk.0.attn_q.weight.lora_a", shape: [32, 32], data: new Float32Array(1024), type: "q8_0" as const }];
    await expect(adapterWith(q8)).rejects.toThrow(/"blk\.0\.attn_q\.weight\.lora_a" is ggml type 8; LoRA factors are read as F32 or F16/);

    // fits the file format, not the model: another architecture, another size
    const store = new ParamStore(engine);
    const base = join(dir, "e-base.gguf");
    const read = await adapterWith(same);
    const qwen = await adapterWith(same, { "general.architecture": gguf.str("qwen2") });
    const lm = declareLlamaFromGguf(store, await readGgufHeader(base), base, { lora: read.lora });
    store.initialize(new Rng(0));
    expect(() => loadLoraAdapter(store, lm, qwen)).toThrow(/adapter for architecture "qwen2", the model is llama/);
    const bigger = peftFactors({ ...config, dim: 48, heads: 4, headDim: 12 }, ["q", "v"], [0, 1], 2, 10);
    writeFileAtomic(file, encodeGguf({ "general.architecture": gguf.str("llama"), "general.type": gguf.str("adapter"), "adapter.type": gguf.str("lora"), "adapter.lora.alpha": gguf.f32(4) }, [...bigger].flatMap(([key, f]) => {
      const [, l, t] = key.split(".");
      const name = `blk.${l}.${PROJECTION_TENSOR[t as LlamaProjection]}.weight`;
      return [{ name: `${name}.lora_a`, shape: f.aShape, data: f.a }, { name: `${name}.lora_b`, shape: f.bShape, data: f.b }];
    })));
    const big = await readLoraGguf(file);
    expect(() => loadLoraAdapter(store, lm, big)).toThrow(/"blk\.0\.attn_q\.weight\.lora_a"\/"lora_b" adapt a \[48, 48\] matrix; the model's blk\.0\.attn_q\.weight is \[32, 32\]/);
    store.dispose();
  }, 60_000);
});
