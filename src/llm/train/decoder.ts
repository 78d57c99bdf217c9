/**
 * A GGUF model opened on reclm's engine for training or scoring: the frozen base weights (or all of them trainable),
 * LoRA adapters when asked, one engine with its own threads. `dispose()` frees all of it.
 */
import { Engine, ParamStore } from "../../engine/index.ts";
import { ReclmError } from "../../errors.ts";
import { Rng } from "../../rng.ts";
import { declareLlamaFromGguf, type LoraOptions } from "../llama.ts";
import { loadLoraAdapter, readLoraGguf } from "../lora-gguf.ts";
import { readGgufHeader } from "../runtime.ts";
import type { TrainableDecoder } from "./trainer.ts";

export interface OpenDecoderOptions {
  lora?: LoraOptions;
  /** Train the base weights too (full fine-tuning). */
  trainBase?: boolean;
  /** Start the LoRA factors from this adapter file (GGUF) instead of PEFT's init. */
  adapterFile?: string;
  threads?: number;
  /** Seed of the LoRA init (A ~ U(±1/√in), B = 0). */
  seed?: number;
}

export interface OpenDecoder extends TrainableDecoder {
  file: string;
  architecture: string;
  dispose(): void;
  [Symbol.dispose](): void;
}

export async function openDecoder(file: string, options: OpenDecoderOptions = {}): Promise<OpenDecoder> {
  const header = await readGgufHeader(file);
  const engine = Engine.create({ threads: options.threads });
  const store = new ParamStore(engine);
  try {
    const model = declareLlamaFromGguf(store, header, file, { lora: options.lora, trainBase: options.trainBase });
    store.initialize(new Rng(options.seed ?? 0));
    if (options.adapterFile) loadLoraAdapter(store, model, await readLoraGguf(options.adapterFile));
    const ctx = header.metadata[`${header.architecture}.context_length`];
    if (typeof ctx !== "number" || !Number.isInteger(ctx) || ctx < 2) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `GGUF metadata lacks a usable "${header.architecture}.context_length"`, { file, field: `${header.architecture}.context_length` });
    }
    let disposed = false;
    const dispose = (): void => {
      if (disposed) return;
      disposed = true;
      store.dispose();
      engine.dispose();
    };
    return {
      engine,
      store,
      model,
      maxLength: ctx,
      file,
      architecture: header.architecture,
      dispose,
      [Symbol.dispose]: dispose,
    };
  } catch (e) {
    store.dispose();
    engine.dispose();
    throw e;
  }
}
