/**
 * NARM — Li et al., "Neural Attentive Session-based Recommendation", CIKM 2017 (arXiv 1711.04725), as the LlamaRec
 * authors' own code builds it: docs/model-recipes.md §4 [XAttack model/narm.py, dataloader/rnn.py, trainer/narm.py].
 *
 * Implemented: item embedding → Dropout → one GRU layer (input D, hidden 2D) → global encoder c_g = last state;
 * local encoder α_j = softmax_j(v · HardSigmoid(A_1 h_j + A_2 c_g)) over real positions, c_l = Σ_j α_j h_j;
 * Dropout([c_g; c_l]) (4D) · (B·E)ᵀ, a bilinear decoder against the (shared) item embedding. Every parameter,
 * embedding and GRU biases included, starts truncated-normal (std 0.02, ±0.04). One target per example ("last").
 *
 * Deviations from the authors' code, all named:
 * - Padding: reclm windows are LEFT-padded (XAttack right-pads and packs by length). The GRU keeps its state through
 *   leading padding (h = 0 there), so the last state is the packed GRU's final state and padded h_j are 0, as
 *   pad_packed_sequence gives.
 * - XAttack zeroes A_2·c_g at padding positions (`mask · state1`) before the HardSigmoid; reclm does not, because
 *   those positions get −1e9 before the softmax anyway, so their α_j (and its gradient) is exactly 0 either way.
 * - HardSigmoid clamp(x/6 + 0.5, 0, 1) is composed as relu(x/6 + 0.5) − relu(x/6 − 0.5) (same values; ggml's clamp
 *   has no backward).
 */
import type { Builder, Param, Tensor } from "../engine/index.ts";
import { declareGru, gru, type GruParams } from "./gru4rec.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { headScores } from "./neural/head.ts";
import { FIELD } from "./neural/config.ts";
import { TRUNC } from "./neural/inits.ts";
import { EMBEDDED_PRESET, LLAMAREC_TRAINER, LRUREC_VALIDATION } from "./neural/presets.ts";

export interface NARMConfig extends BaseModelConfig {
  /** Dropout on [c_g; c_l] before the decoder (XAttack `bert_attn_dropout`). Defaults to 0.1. */
  attnDropout: number;
}

/** §0 decay groups: names with "bias" (or "layer_norm") get no weight decay. */
const decayOf = (name: string) => !name.includes("bias") && !name.includes("layer_norm");

/** XAttack's defaults for ML-1M (dropout 0.1/0.1) with LlamaRec's trainer settings [docs/model-recipes.md §0, §4]. */
const DEFAULTS: NARMConfig = {
  maxLen: 200,
  /** Embedding D; the GRU hidden is 2D. Defaults to 64. */
  hidden: 64,
  /** Dropout on item embeddings (XAttack `bert_dropout`). Defaults to 0.1. */
  dropout: 0.1,
  attnDropout: 0.1,
  batchSize: 128,
  evalBatchSize: 128,
  ...LLAMAREC_TRAINER,
  seed: 0,
};

export interface NARMParams {
  itemEmb: Param;
  gru: GruParams;
  aGlobal: Param;
  aLocal: Param;
  vVector: Param;
  bVector: Param;
}

const ML_100K: Partial<NARMConfig> = { maxLen: 200, dropout: 0.2, attnDropout: 0.2, batchSize: 128, evalBatchSize: 16, patience: 20 };

export const NARM: NeuralModelDefinition<NARMConfig, NARMParams> = {
  name: "narm",
  reference:
    "NARM (Li et al., arXiv 1711.04725) as in the LlamaRec authors' XAttack code (docs/model-recipes.md §4): GRU(2D) global + " +
    "HardSigmoid attention local encoders, bilinear decoder on the item embedding; deviation: left padding with a masked GRU state",
  defaults: DEFAULTS,
  presets: {
    // LlamaRec's "ML-100k" (anchors §1.2): max_len 200, dropout 0.2/0.2, validate every 500 it, patience 20,
    // selection on the mean of 16-user batch means. Training batch 128 (XAttack's NARM batch) rather than LlamaRec's
    // 16: one example per prefix gives ~89k examples an epoch.
    "ml-latest-small": ML_100K,
    "ml-100k": ML_100K,
    // XAttack set_template [docs/model-recipes.md §3 "ML-1M preset"]: dropout 0.1/0.1, max_len 200, best by NDCG@10.
    "ml-1m": { maxLen: 200, dropout: 0.1, attnDropout: 0.1, selectMetric: "NDCG@10", patience: 10, ...LRUREC_VALIDATION },
    // XAttack's set_template sets bert_dropout / bert_attn_dropout per dataset for every model it trains, NARM
    // included [docs/model-recipes.md §3-§4]: the same values as BERT4Rec's presets, max_len 50, batch 128.
    beauty: { maxLen: 50, dropout: 0.5, attnDropout: 0.2 },
    games: { maxLen: 50, dropout: 0.5, attnDropout: 0.5 },
    steam: { maxLen: 50, dropout: 0.2, attnDropout: 0.2, ...LRUREC_VALIDATION },
    embedded: EMBEDDED_PRESET,
  },
  fieldSchemas: { attnDropout: FIELD.probability },
  objective: () => ({ kind: "last" }),
  vocabSize: (nItems) => nItems + 1,
  windowLength: (config) => config.maxLen,
  windowInvariant: true,

  declare(store, ctx, config) {
    const D = config.hidden;
    const H = 2 * D;
    const add = (name: string, shape: number[]) => store.add(name, shape, { init: TRUNC, decay: decayOf(name) });
    return {
      itemEmb: add("token.weight", [ctx.nItems + 1, D]),
      gru: declareGru(store, "gru", D, H, TRUNC, decayOf),
      aGlobal: add("a_global.weight", [H, H]),
      aLocal: add("a_local.weight", [H, H]),
      vVector: add("v_vector.weight", [1, H]),
      bVector: add("b_vetor.weight", [2 * H, D]),
    };
  },

  encode(b, p, x, _ctx, config) {
    const [B, L] = x.ids.shape;
    const e = b.dropout(b.embedding(p.itemEmb, x.ids), config.dropout); // [B, L, D]
    const { last: cGlobal, states } = gru(b, p.gru, e, x.mask, { states: true }); // [B, 2D], [B, L, 2D]
    const H = cGlobal.shape[1];
    const q2 = b.linear(states!, p.aLocal); // [B, L, 2D]
    const q1 = b.reshape(b.linear(cGlobal, p.aGlobal), [B, 1, H]); // [B, 1, 2D]
    const act = hardSigmoid(b, b.add(q2, q1)); // [B, L, 2D]
    const logits = b.reshape(b.linear(act, p.vVector), [B, 1, L]); // [B, 1, L]
    const padding = b.reshape(b.scale(b.addScalar(x.mask, -1), 1e9), [B, 1, L]); // [B, 1, L]: −1e9 at padding
    const alpha = b.softmax(b.add(logits, padding)); // [B, 1, L]
    const cLocal = b.reshape(b.matmul(alpha, states!), [B, H]); // [B, 2D]
    return b.dropout(b.concat([cGlobal, cLocal], 1), config.attnDropout); // [B, 4D]
  },

  scores(b, p, h, ctx) {
    const itemProj = b.linear(p.itemEmb, p.bVector); // [N+1, 4D]
    return headScores(b, ctx, h, itemProj); // [R, N+1]
  },
};

/** clamp(x/6 + 0.5, 0, 1) = relu(x/6 + 0.5) − relu(x/6 − 0.5), so the backward exists. */
function hardSigmoid(b: Builder, x: Tensor): Tensor {
  const s = b.scale(x, 1 / 6);
  return b.sub(b.relu(b.addScalar(s, 0.5)), b.relu(b.addScalar(s, -0.5)));
}
