/**
 * Models: one registry of every model a user can name (the training-free baselines `pop` and `cooc`, the six
 * engine-trained retrievers), training (in this process or in a child process), a trained run dir as a model, and
 * a retriever's top-k as a `Recommender`. What a new engine model implements is `NeuralModelDefinition`.
 * For large catalogs: any retriever trains with a sampled softmax (config `softmax: "sampled"`, `SampledSoftmaxConfig`),
 * and a run dir gets an approximate item index (`buildRunIndex`; training builds it from `ANN_MIN_ITEMS` items on)
 * that `resolveModel` wraps the model in (`AnnRecommender`) for top-k, while evaluation keeps ranking every item.
 *
 * ```ts
 * import { loadDataset, LRURec, trainModel, resolveModel, TopKRecommender } from "reclm";
 * const ds = await loadDataset("embedded");
 * const run = await trainModel(LRURec, ds, { outDir: "runs/lru", threads: 1 });  // checkpoints, report, training.svg
 * run.recommender.dispose();
 * await using top = new TopKRecommender(await resolveModel("runs/lru", ds, { split: "test" }));
 * console.log(await top.recommend(ds.train[0], { k: 20 }));
 * ```
 * @module models
 */
export {
  allModelNames,
  BASELINE_NAMES,
  canonicalModelName,
  createBaseline,
  getNeuralModel,
  isBaselineName,
  isNeuralModelName,
  loadTrained,
  lookupModel,
  MODEL_ALIASES,
  MODEL_REGISTRY,
  NEURAL_MODEL_NAMES,
  NEURAL_MODELS,
} from "../models/registry.ts";
export type { BaselineCreateOptions, BaselineEntry, BaselineName, ModelEntry, ModelName, NeuralEntry, NeuralModelName } from "../models/registry.ts";
export { knownModelNames, resolveModel } from "../models/resolve.ts";
export type { ResolveContext } from "../models/resolve.ts";
export { TopKRecommender } from "../models/top-k.ts";

// the baselines
export { itemCounts, PopRecommender } from "../models/pop.ts";
export type { BaselineOptions } from "../models/pop.ts";
export { CoocRecommender, transitionCounts } from "../models/cooc.ts";
export type { CoocConfig, Transitions } from "../models/cooc.ts";

// the six engine-trained retrievers
export { LRURec, LRUREC_DEFAULTS, LRUREC_PRESETS } from "../models/lrurec.ts";
export type { LRURecConfig, LRURecParams } from "../models/lrurec.ts";
export { SASRec } from "../models/sasrec.ts";
export type { SASRecConfig, SASRecParams } from "../models/sasrec.ts";
export { BERT4Rec } from "../models/bert4rec.ts";
export type { BERT4RecConfig, BERT4RecParams } from "../models/bert4rec.ts";
export { GRU4Rec } from "../models/gru4rec.ts";
export type { GRU4RecConfig, GRU4RecParams } from "../models/gru4rec.ts";
export { NARM } from "../models/narm.ts";
export type { NARMConfig, NARMParams } from "../models/narm.ts";
export { Caser } from "../models/caser.ts";
export type { CaserConfig, CaserParams } from "../models/caser.ts";

// training and run dirs
export { trainModel } from "../models/neural/trainer.ts";
export type { TrainOptions, TrainResult } from "../models/neural/trainer.ts";
export { trainInChild } from "../models/neural/train-job.ts";
export type { TrainJobInput } from "../models/neural/train-job.ts";
export { plotRun, readTrainReport, REPORT_JSON, REPORT_MD } from "../models/neural/report.ts";
export type { SavedTrainReport, TrainReport } from "../models/neural/report.ts";
export { CONFIG_FILE, MODEL_FILE, NeuralRecommender, readSavedConfig } from "../models/neural/recommender.ts";
export type { NeuralRecommenderOptions, SavedModelConfig } from "../models/neural/recommender.ts";
export { CHECKPOINT_FILE, TRAINING_SVG } from "../train/run-dir.ts";
export type { DatasetRef, RunDirOptions } from "../train/child-job.ts";
export { FIELD, parseSetFlags, resolveConfig } from "../models/neural/config.ts";
export type { ResolveConfigOptions, ResolvedConfig, ScheduleConfig } from "../models/neural/config.ts";
export { DEFAULT_NEGATIVES } from "../models/neural/sampled-softmax.ts";
export type { SampledSoftmaxConfig } from "../models/neural/sampled-softmax.ts";

// approximate top-k for large catalogs
export { ANN_INDEX_FILE, ANN_META_FILE, ANN_MIN_ITEMS, AnnRecommender, buildRunIndex, DEFAULT_ANN_SETTINGS, ItemIndex } from "../models/ann.ts";
export type { AnnMeta, AnnSettings } from "../models/ann.ts";

// writing a model of your own
export type { BaseModelConfig, ModelContext, NeuralModelDefinition, Objective, SequenceInputs } from "../models/neural/contract.ts";
export { headScores } from "../models/neural/head.ts";
export { EMBEDDING_INITS, embeddingInit, TRUNC } from "../models/neural/inits.ts";
export type { EmbeddingInit } from "../models/neural/inits.ts";
export { declareLayerNorm, declareLinear } from "../models/neural/layers.ts";
export type { WeightBias } from "../models/neural/layers.ts";
