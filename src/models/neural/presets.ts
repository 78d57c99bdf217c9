/**
 * Training settings shared across model files, so each model states only what its recipe changes
 * (docs/model-recipes.md §0). Model-specific presets spread these and add their architecture fields.
 */
import type { BaseModelConfig } from "./contract.ts";

/**
 * LlamaRec's / LRURec's trainer (config.py `set_template`, trainer/base.py): AdamW lr 1e-3, weight decay 0.01,
 * eps 1e-9, global clip 5.0, constant LR, validation every 500 steps on UNMASKED Recall@10 averaged as the mean of
 * per-batch means (trainer/utils.py `AverageMeterSet`, one update per batch), patience 20; test masks
 * the items of the input window (trainer/lru.py `calculate_metrics`). LRURec's own repo masks in validation too
 * (`LRUREC_VALIDATION`).
 */
export const LLAMAREC_TRAINER = {
  lr: 1e-3,
  weightDecay: 0.01,
  eps: 1e-9,
  clipNorm: 5,
  epochs: 500,
  validateEvery: 500,
  patience: 20,
  selectMetric: "Recall@10",
  maskHistoryInValidation: false,
  maskScope: "window",
  selectAverage: "batches",
} as const satisfies Partial<BaseModelConfig>;

/**
 * The LRURec repo's validation (yueqirex/LRURec trainer/base.py `validate` -> trainer/lru.py `calculate_metrics`,
 * which always masks the input window), for the presets of the datasets its paper reports (ML-1M, Steam, ...).
 */
export const LRUREC_VALIDATION = { maskHistoryInValidation: true } as const satisfies Partial<BaseModelConfig>;

/**
 * LLaRA's rec-model training scripts (DROS `A_Gru_final_bce.py`, `A_Caser_final_bce.py`): Adam 1e-3, eps 1e-8,
 * weight decay 1e-6, batch 256, validation once per epoch, patience 10.
 */
export const LLARA_TRAINER = {
  batchSize: 256,
  evalBatchSize: 256,
  lr: 1e-3,
  weightDecay: 1e-6,
  eps: 1e-8,
  clipNorm: 5,
  epochs: 200,
  validateEvery: 0,
  patience: 10,
  selectMetric: "Recall@10",
  maskHistoryInValidation: false,
  // LLaRA scores 1+19 candidates, not the catalogue: with its 10-item windows, full ranking masks the whole history.
  maskScope: "history",
  selectAverage: "users",
} as const satisfies Partial<BaseModelConfig>;

/**
 * reclm's own preset for the embedded synthetic dataset (average length 25): windows of 50, batch 64, validation
 * once per epoch with patience 3, so `reclm run` trains to early stopping in minutes on 2 cores. Not a paper's.
 */
export const EMBEDDED_PRESET = {
  maxLen: 50,
  batchSize: 64,
  evalBatchSize: 256,
  validateEvery: 0,
  patience: 3,
  epochs: 30,
  selectAverage: "users",
} as const satisfies Partial<BaseModelConfig>;
