/**
 * Caser — Tang & Wang, "Personalized Top-N Sequential Recommendation via Convolutional Sequence Embedding", WSDM 2018
 * (arXiv 1809.07426), as LLaRA (arXiv 2312.02445) trains it as a frozen recommender: docs/model-recipes.md §6
 * [LLaRA recommender/A_SASRec_final_bce_llm.py `Caser`; DROS A_Caser_final_bce.py].
 *
 * Implemented: the last L = maxLen items' embeddings (N(0, 0.01²), padding rows multiplied by 0) as an L×D image;
 * horizontal convolutions of heights h ∈ {2, 3, 4} (16 filters each, full width D) → ReLU → max over time (48);
 * one vertical convolution spanning all L rows (1 filter, width 1) → ReLU (D); Dropout([h; v]) → Linear(48 + D → V).
 * Convolution weights xavier-normal, biases 0.1 (LLaRA's init); the head keeps nn.Linear's default init.
 *
 * Deviations from LLaRA's code, all named:
 * - Loss: full-softmax cross-entropy over all items ("last" objective), the recipe's "reclm choice" for full ranking;
 *   LLaRA/DROS train BCE on the target plus one uniform negative (not implemented: the trainer has no such objective).
 * - Padding: reclm windows are LEFT-padded (LLaRA pads its 10-item histories on the right). The padding rows are
 *   zero in both, but the vertical filter's weights therefore meet the items at the other end of the window.
 * - Layout: a horizontal filter is stored as Conv1d weight [16, D, h] (PyTorch Conv2d holds [16, 1, h, D]).
 * - Head: V = N + 1 columns (column 0 = padding, never a target, masked at ranking).
 * - Optimiser: the shared trainer's AdamW (decoupled decay 1e-6, no decay on biases) + global clip 5.0
 *   (LLaRA: Adam with coupled L2 1e-6 on everything, no clipping).
 */
import type { Param, Tensor } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import { torchLinearInit } from "./gru4rec.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { headScores } from "./neural/head.ts";
import { FIELD } from "./neural/config.ts";
import { LLARA_TRAINER } from "./neural/presets.ts";

export interface CaserConfig extends BaseModelConfig {
  /** Horizontal filters per height (LLaRA `num_filters`). Defaults to 16. */
  horizontalFilters: number;
  /** Heights of the horizontal filters (LLaRA `filter_sizes`). Defaults to [2, 3, 4]. */
  filterHeights: number[];
}

/** LLaRA/DROS setup [docs/model-recipes.md §6]: L = 10, D = 64, dropout 0.1, Adam 1e-3 eps 1e-8 wd 1e-6, batch 256. */
const DEFAULTS: CaserConfig = {
  /** The vertical filter spans exactly this many rows, so the window is fixed. Defaults to 10. */
  maxLen: 10,
  hidden: 64,
  /** Dropout on the concatenated convolution features. Defaults to 0.1. */
  dropout: 0.1,
  horizontalFilters: 16,
  filterHeights: [2, 3, 4],
  ...LLARA_TRAINER,
  seed: 0,
};

export interface CaserParams {
  itemEmb: Param;
  horizontal: Param[];
  horizontalBias: Param[];
  vertical: Param;
  verticalBias: Param;
  outW: Param;
  outB: Param;
}

/** torch.nn.init.xavier_normal_: std = √(2 / (fanIn + fanOut)). */
const xavierNormal = (fanIn: number, fanOut: number) => ({ kind: "normal", std: Math.sqrt(2 / (fanIn + fanOut)) }) as const;
const BIAS = { kind: "constant", value: 0.1 } as const;

export const Caser: NeuralModelDefinition<CaserConfig, CaserParams> = {
  name: "caser",
  reference:
    "Caser (Tang & Wang, arXiv 1809.07426) as LLaRA's rec model (docs/model-recipes.md §6): horizontal h∈{2,3,4}×16 + vertical " +
    "convolutions over the last 10 items → Linear(112→N+1); deviations: full-softmax CE instead of BCE+1 negative, left padding, AdamW + clip 5",
  defaults: DEFAULTS,
  presets: {
    // LLaRA uses one setting for every dataset.
    "ml-latest-small": {},
    embedded: {},
  },
  fieldSchemas: { horizontalFilters: FIELD.positiveInt, filterHeights: FIELD.positiveIntList },
  objective: () => ({ kind: "last" }),
  vocabSize: (nItems) => nItems + 1,
  windowLength: (config) => config.maxLen,

  declare(store, ctx, config) {
    const D = config.hidden;
    const L = config.maxLen;
    const F = config.horizontalFilters;
    const V = ctx.nItems + 1;
    for (const h of config.filterHeights) {
      if (!Number.isInteger(h) || h < 1 || h > L) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `caser filterHeights: ${h} must be an integer in [1, maxLen = ${L}]`, { field: "filterHeights" });
    }
    const nFeatures = F * config.filterHeights.length + D;
    return {
      itemEmb: store.add("item_emb", [V, D], { init: { kind: "normal", std: 0.01 }, decay: true }),
      horizontal: config.filterHeights.map((h, i) => store.add(`horizontal_cnn.${i}.weight`, [F, D, h], { init: xavierNormal(h * D, F * h * D), decay: true })),
      horizontalBias: config.filterHeights.map((_, i) => store.add(`horizontal_cnn.${i}.bias`, [F], { init: BIAS, decay: false })),
      vertical: store.add("vertical_cnn.weight", [1, L], { init: xavierNormal(L, L), decay: true }),
      verticalBias: store.add("vertical_cnn.bias", [1], { init: BIAS, decay: false }),
      outW: store.add("output.weight", [V, nFeatures], { init: torchLinearInit(nFeatures), decay: true }),
      outB: store.add("output.bias", [V], { init: torchLinearInit(nFeatures), decay: false }),
    };
  },

  encode(b, p, x, _ctx, config) {
    const [B, L] = x.ids.shape;
    const D = config.hidden;
    const e = b.mul(b.embedding(p.itemEmb, x.ids), b.reshape(x.mask, [B, L, 1])); // [B, L, D], padding rows 0
    const eT = b.cont(b.permute(e, [0, 2, 1])); // [B, D, L]: channels = embedding dims, time = positions
    const pooled: Tensor[] = p.horizontal.map((w, i) => {
      const conv = b.relu(b.conv1d(eT, w, p.horizontalBias[i])); // [B, F, L − h + 1]
      return b.reshape(b.maxPool1d(conv, conv.shape[2]), [B, conv.shape[1]]); // [B, F]
    });
    const vertical = b.relu(b.add(b.reshape(b.matmulNT(eT, p.vertical), [B, D]), p.verticalBias)); // [B, D]
    return b.dropout(b.concat([...pooled, vertical], 1), config.dropout); // [B, F·|heights| + D]
  },

  scores(b, p, h, ctx) {
    return headScores(b, ctx, h, p.outW, p.outB); // [R, N+1]
  },
};
