/**
 * The contract every engine-trained ID-based recommender implements (RecBole's SequentialRecommender, typed).
 * A model file only declares its parameters and writes its encoder with builder ops; the shared trainer
 * (src/models/neural/trainer.ts) owns batching, the objective's loss, validation, early stopping, checkpoints,
 * and scoring, so no model repeats that code (RecBole's copy-paste is what we avoid).
 *
 * Shapes are PyTorch order (src/engine/README.md). B = batch, L = sequence window, D = hidden, V = output columns.
 */
import type { Builder, ParamStore, Tensor } from "../../engine/index.ts";
import type { Rng } from "../../rng.ts";
import type { z } from "zod";

/** Hyper-parameters every neural retriever has. Model configs extend it with their own fields. */
export interface BaseModelConfig {
  /** Window of history the model reads (LlamaRec: 200 for ML, 50 otherwise). */
  maxLen: number;
  /** Hidden size D (64 in every paper preset). */
  hidden: number;
  /** Dropout on embeddings/FFN. */
  dropout: number;
  /** Training batch size (sequences). */
  batchSize: number;
  /** Scoring batch size. */
  evalBatchSize: number;
  lr: number;
  weightDecay: number;
  /** AdamW epsilon (LlamaRec: 1e-9). */
  eps: number;
  /** Global gradient-norm clip (LlamaRec: 5.0); 0 disables. */
  clipNorm: number;
  /** Maximum epochs. */
  epochs: number;
  /** Validate every this many optimizer steps (LlamaRec: 500); 0 = once per epoch. */
  validateEvery: number;
  /** Stop after this many validations without a strictly better validation metric. */
  patience: number;
  /** Metric used for model selection, e.g. "Recall@10". */
  selectMetric: string;
  /** Mask history items during validation (LlamaRec's trainer does NOT: anchors §1.3; LRURec's does). */
  maskHistoryInValidation: boolean;
  /**
   * Which history items validation (when masked) and test mask: "window", the last maxLen items the model reads (what
   * LlamaRec's and LRURec's `calculate_metrics` masks: the ids of its input `seqs`), or the whole "history".
   */
  maskScope: "window" | "history";
  /**
   * How the validation metric is averaged for model selection: over "users", or as LlamaRec's and LRURec's trainers
   * do, the mean of per-batch means over batches of `evalBatchSize` users ("batches": on ml-latest-small the last
   * batch of 2 users weighs as much as a batch of 16).
   */
  selectAverage: "users" | "batches";
  seed: number;
}

/**
 * What the trainer asks a model to predict.
 * - "causal": at every position t, predict the item at t+1 (SASRec, LRURec); inputs left-padded; loss over all
 *    positions whose label is not 0. Scoring reads the last position.
 * - "cloze": BERT4Rec; masked positions use the mask token id N+1 (so V = N+2); scoring appends the mask token.
 * - "last": one target per example from its prefix (NARM, GRU4Rec, Caser); every prefix of the training sequence
 *    is one example; the encoder returns [B, D].
 */
export type Objective =
  | { kind: "causal" }
  | { kind: "cloze"; maskProb: number; maxPredictions: number }
  | { kind: "last" };

export interface ModelContext {
  /** Catalog size N (item ids 1..N, 0 = padding). */
  nItems: number;
  /** The padded window length the encoder receives (>= maxLen; LRURec pads to a power of two). */
  windowLen: number;
  /**
   * Training graphs only: `scores` may return more columns than V, the extra ones fixed at −1e9 (zero probability),
   * so ggml's sgemm can take the head's backward (./head.ts). Eval graphs leave it unset and get exactly V columns.
   */
  padScoreColumns?: boolean;
  /**
   * Training graphs with a sampled softmax (./sampled-softmax.ts) only: `scores` returns [R, S + 1], the scores of the
   * S shared sampled columns `negatives` (i32 [S]) and, last, of each row's own column `positives` (i32 [R]), instead
   * of all V columns. `headScores` does this for every model.
   */
  sampledColumns?: { negatives: Tensor; positives: Tensor };
  /**
   * Embedding graphs only (src/models/ann.ts): `headScores` records here the rows it would score (`h`, after the
   * model's own transform) and the matrix and bias it would score them against, and returns `h` instead of scores,
   * so an approximate index can search item vectors with the model's exact scores as inner products.
   */
  headCapture?: { h?: Tensor; W?: Tensor; bias?: Tensor };
}

/** The graph inputs the trainer builds for every batch (all derived from the left-padded ids). */
export interface SequenceInputs {
  /** i32 [B, L]: item ids, LEFT-padded with 0 (cloze: masked positions hold N + 1). */
  ids: Tensor;
  /** f32 [B, L]: 1 at real items, 0 at padding (for recurrences and attention key masks). */
  mask: Tensor;
  /** i32 [B, L]: 1-based position counted from the first real item; 0 at padding (SASRec/BERT4Rec positions). */
  positions: Tensor;
  /**
   * f32 [R, Lr], packed training batches only (./packing.ts; models that declare `packedRowLength`): several examples
   * per row, the segment of each position (1, 2, … in a row, the padding tail one more). Each example is still
   * left-padded inside its segment only where its first label precedes its first item.
   */
  segments?: Tensor;
}

/**
 * One engine-trained model: `C` its hyper-parameters, `P` the parameters it declares (its own typed record of
 * `Param`s, opaque to the trainer, which only hands what `declare` returned back to `afterInit`, `encode` and
 * `scores`). The registry keeps every model as `NeuralModelDefinition` (both erased): a model is always called with
 * the parameters its own `declare` made, which `NeuralRecommender` guarantees by holding the two together.
 */
export interface NeuralModelDefinition<C extends BaseModelConfig = BaseModelConfig, P = unknown> {
  /** Registry key: "lrurec", "sasrec", "bert4rec", "gru4rec", "narm", "caser". */
  readonly name: string;
  /** Paper + sections implemented + deviations, shown in reports. */
  readonly reference: string;
  /** Defaults (each field documented in the model file) and per-dataset paper presets citing anchors/recipes. */
  readonly defaults: C;
  readonly presets: Readonly<Record<string, Partial<C>>>;
  /**
   * Optional: constraints on the model's own fields beyond their default's JSON type (an enum, a range). The config
   * validator applies them, so a bad value names the field and the layer it came from (--set, --config, a preset).
   */
  readonly fieldSchemas?: Readonly<Partial<Record<Exclude<keyof C, keyof BaseModelConfig>, z.ZodType>>>;
  objective(config: C): Objective;
  /** Output columns V: N + 1 (N + 2 with a mask token). */
  vocabSize(nItems: number, config: C): number;
  /** The window length the encoder is built for, from maxLen (identity unless the model pads, e.g. to 2^k). */
  windowLength(config: C): number;
  /**
   * Optional: true when a history's scores do not depend on how much left padding its window holds (padding masked
   * out of every recurrence, scan and attention; positions counted from the first real item). Evaluation and serving
   * then run each batch through the shortest power-of-two window that holds its longest history instead of the whole
   * windowLen. test/models/neural/window-invariance.test.ts checks the declaration of every registered model.
   */
  readonly windowInvariant?: boolean;
  /**
   * Optional: the row length of packed training batches (./packing.ts), for a causal encoder that keeps the examples
   * of one row apart through `SequenceInputs.segments`, so that each position's output depends on its own example
   * alone. The encoder must then return every position of the [R, Lr] rows.
   */
  packedRowLength?(config: C): number;
  /** Declares every parameter (names are stable: checkpoints use them). */
  declare(store: ParamStore, ctx: ModelContext, config: C): P;
  /**
   * Optional: adjusts parameters after `store.initialize(rng)` filled them from their declared inits (e.g. zero a
   * padding row, LRURec's ring init of params_log). `rng` continues the init stream, so a seed still reproduces it.
   */
  afterInit?(store: ParamStore, params: P, config: C, rng: Rng): void;
  /**
   * The encoder over LEFT-padded windows (the last position is the most recent item).
   * Returns [B, L, D] hidden states for "causal"/"cloze", [B, D] for "last". Dropout only when `b.training`.
   */
  encode(b: Builder, params: P, x: SequenceInputs, ctx: ModelContext, config: C): Tensor;
  /** Scores of hidden rows h [R, D] (or [R, Dh]) over the V output columns: [R, V] (through ./head.ts `headScores`). */
  scores(b: Builder, params: P, h: Tensor, ctx: ModelContext, config: C): Tensor;
}
