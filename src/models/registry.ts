/**
 * Every model a user can name, in one table: the training-free baselines (built from the dataset they will score)
 * and the engine-trained retrievers (trained by `trainModel`; once trained, their run dir is the name). The CLI's
 * `--model`/`--models`, the methods' retrievers and the service look names up here and nowhere else; `resolveModel`
 * (resolve.ts) turns a name or a run dir into a ready `SequentialRecommender`.
 */
import type { SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { BERT4Rec } from "./bert4rec.ts";
import { Caser } from "./caser.ts";
import { CoocRecommender, type CoocConfig } from "./cooc.ts";
import { GRU4Rec } from "./gru4rec.ts";
import { LRURec } from "./lrurec.ts";
import { NARM } from "./narm.ts";
import type { NeuralModelDefinition } from "./neural/contract.ts";
import { NeuralRecommender, readSavedConfig, type NeuralRecommenderOptions } from "./neural/recommender.ts";
import { PopRecommender, type BaselineOptions } from "./pop.ts";
import { SASRec } from "./sasrec.ts";

/** What a baseline is built with: the split it will score (it learns from what that split's inputs may see), and cooc's knobs. */
export type BaselineCreateOptions = BaselineOptions & CoocConfig;

/** A training-free model: built from the dataset in milliseconds, nothing to train or save. */
export interface BaselineEntry {
  readonly kind: "baseline";
  readonly name: string;
  readonly description: string;
  create(ds: SequenceDataset, options?: BaselineCreateOptions): SequentialRecommender;
}

/** An engine-trained retriever: `trainModel(definition, ds)` trains it; its run dir then names the trained model. */
export interface NeuralEntry {
  readonly kind: "neural";
  readonly name: string;
  readonly description: string;
  readonly definition: NeuralModelDefinition;
}

export type ModelEntry = BaselineEntry | NeuralEntry;

/** The engine-trained retrievers, each with its own config and parameter types. */
export const NEURAL_MODELS = {
  lrurec: LRURec,
  sasrec: SASRec,
  gru4rec: GRU4Rec,
  narm: NARM,
  bert4rec: BERT4Rec,
  caser: Caser,
} as const;

export type NeuralModelName = keyof typeof NEURAL_MODELS;
export type BaselineName = "pop" | "cooc";
export type ModelName = BaselineName | NeuralModelName;

const BASELINES: Readonly<Record<BaselineName, BaselineEntry>> = {
  pop: { kind: "baseline", name: "pop", description: "most popular items among what the split's inputs may see", create: (ds, o) => PopRecommender.fromDataset(ds, o) },
  cooc: { kind: "baseline", name: "cooc", description: "next-item transition counts from the last history item, popularity as tie-breaker", create: (ds, o) => CoocRecommender.fromDataset(ds, o) },
};

/** Every nameable model, baselines first (the order of `reclm run`'s table). */
export const MODEL_REGISTRY: Readonly<Record<ModelName, ModelEntry>> = {
  ...BASELINES,
  ...(Object.fromEntries(
    Object.entries(NEURAL_MODELS).map(([name, definition]) => [name, { kind: "neural", name, description: definition.reference, definition } satisfies NeuralEntry]),
  ) as Record<NeuralModelName, NeuralEntry>),
};

export const BASELINE_NAMES = Object.keys(BASELINES) as BaselineName[];
export const NEURAL_MODEL_NAMES = Object.keys(NEURAL_MODELS) as NeuralModelName[];

/** The model codes of the authors' own code (LlamaRec `--model_code lru`, XAttack `bert`, ...) as aliases. */
export const MODEL_ALIASES: Readonly<Record<string, NeuralModelName>> = { lru: "lrurec", sas: "sasrec", bert: "bert4rec", gru: "gru4rec" };

/** The canonical model name of a name or alias (unknown names unchanged). */
export function canonicalModelName(name: string): string {
  return Object.hasOwn(MODEL_ALIASES, name) ? MODEL_ALIASES[name] : name;
}

/** Every name the registry knows (aliases not included): the baselines, then the trainable models. */
export function allModelNames(): ModelName[] {
  return Object.keys(MODEL_REGISTRY) as ModelName[];
}

/** The entry of a name or alias, or undefined. */
export function lookupModel(name: string): ModelEntry | undefined {
  const canonical = canonicalModelName(name);
  return Object.hasOwn(MODEL_REGISTRY, canonical) ? MODEL_REGISTRY[canonical as ModelName] : undefined;
}

export function isNeuralModelName(name: string): boolean {
  return lookupModel(name)?.kind === "neural";
}

export function isBaselineName(name: string): name is BaselineName {
  return lookupModel(name)?.kind === "baseline";
}

/** The definition of a trainable model by name or alias; anything else is RECLM_ERR_UNKNOWN_MODEL listing them. */
export function getNeuralModel(name: string): NeuralModelDefinition {
  const entry = lookupModel(name);
  if (entry?.kind !== "neural") {
    throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown model "${name}" (trainable: ${NEURAL_MODEL_NAMES.join(", ")}; aliases: ${Object.keys(MODEL_ALIASES).join(", ")})`, { field: "model" });
  }
  return entry.definition;
}

/** A training-free baseline by name, built for `ds` (options.split: what it may learn from; default "test"). */
export function createBaseline(name: string, ds: SequenceDataset, options: BaselineCreateOptions = {}): SequentialRecommender {
  const entry = lookupModel(name);
  if (entry?.kind !== "baseline") throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown baseline "${name}"; valid: ${BASELINE_NAMES.join(", ")}`, { field: "model" });
  return entry.create(ds, options);
}

/** A trained model from a run dir (config.json + model.safetensors), ready to score. The caller disposes it. */
export function loadTrained(dir: string, options: NeuralRecommenderOptions = {}): NeuralRecommender {
  const saved = readSavedConfig(dir);
  return NeuralRecommender.load(dir, getNeuralModel(saved.model), options);
}
