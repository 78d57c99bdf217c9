/**
 * Every model reclm can name: the engine-trained sequential retrievers (trained by src/models/neural/trainer.ts) and
 * the training-free baselines (baselines.ts). `loadTrained(dir)` rebuilds a trained model from its run dir.
 */
import { ReclmError } from "../errors.ts";
import { BASELINE_NAMES } from "./baselines.ts";
import { BERT4Rec } from "./bert4rec.ts";
import { Caser } from "./caser.ts";
import { GRU4Rec } from "./gru4rec.ts";
import { LRURec } from "./lrurec.ts";
import { NARM } from "./narm.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { NeuralRecommender, readSavedConfig, type NeuralRecommenderOptions } from "./neural/recommender.ts";
import { SASRec } from "./sasrec.ts";

/** Name → definition. */
export const NEURAL_MODELS = {
  lrurec: LRURec,
  sasrec: SASRec,
  gru4rec: GRU4Rec,
  narm: NARM,
  bert4rec: BERT4Rec,
  caser: Caser,
} as const;

export type NeuralModelName = keyof typeof NEURAL_MODELS;

export const NEURAL_MODEL_NAMES = Object.keys(NEURAL_MODELS) as NeuralModelName[];

/** The model codes of the authors' own code (LlamaRec `--model_code lru`, XAttack `bert`, ...) as aliases. */
export const MODEL_ALIASES: Readonly<Record<string, NeuralModelName>> = { lru: "lrurec", sas: "sasrec", bert: "bert4rec", gru: "gru4rec" };

/** The canonical model name of a name or alias (unknown names unchanged). */
export function canonicalModelName(name: string): string {
  return Object.hasOwn(MODEL_ALIASES, name) ? MODEL_ALIASES[name] : name;
}

/** Every name `--model` accepts besides a run dir. */
export function allModelNames(): string[] {
  return [...NEURAL_MODEL_NAMES, ...BASELINE_NAMES];
}

export function isNeuralModelName(name: string): boolean {
  return Object.hasOwn(NEURAL_MODELS, canonicalModelName(name));
}

export function getNeuralModel(name: string): NeuralModelDefinition<BaseModelConfig> {
  const canonical = canonicalModelName(name);
  if (!Object.hasOwn(NEURAL_MODELS, canonical)) {
    throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown model "${name}" (trainable: ${NEURAL_MODEL_NAMES.join(", ")}; aliases: ${Object.keys(MODEL_ALIASES).join(", ")})`, { field: "model" });
  }
  return NEURAL_MODELS[canonical as NeuralModelName] as unknown as NeuralModelDefinition<BaseModelConfig>;
}

/** A trained model from a run dir (config.json + model.safetensors), ready to score. The caller disposes it. */
export function loadTrained(dir: string, options: NeuralRecommenderOptions = {}): NeuralRecommender<BaseModelConfig> {
  const saved = readSavedConfig(dir);
  return NeuralRecommender.load(dir, getNeuralModel(saved.model), options);
}
