/**
 * BERT4Rec — Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations from
 * Transformer", CIKM 2019 (arXiv 1904.06690), as the LlamaRec authors' own code builds it: docs/model-recipes.md §3
 * [XAttack model/bert.py, model/attention.py, dataloader/bert.py, utils.py `set_template`].
 *
 * Implemented: vocabulary N + 2 ([mask] = N + 1); Dropout(LN(E[x] + P[pos])) with left-padding-aware positions
 * (1 at the first real item, 0 at padding); 2 post-LN blocks x ← LN(x + Dropout(MHA(x))), x ← LN(x + Dropout(FFN(x)))
 * with bidirectional multi-head attention (key-padding mask only, Q/K/V/output linears with bias, dropout on the
 * probabilities) and FFN W2·GELU(W1 x) (d → 4d → d, no inner dropout); head GELU(Linear(h))·Eᵀ + b over N + 2
 * columns, E tied. Init: E and P N(0, 1) (E's padding row 0, nn.Embedding(padding_idx=0); `embeddingInit:
 * "truncated-normal"` is the named deviation SASRec has too); every block and head
 * parameter, biases included, truncated-normal (std 0.02, ±0.04); LayerNorms ones/zeros. Cloze objective: the trainer
 * masks items (mask_prob, +0.1·(1 − mask_prob) on the last item, max_predictions, 80/10/10) and scores the appended
 * [mask] at evaluation.
 *
 * Deviations from the authors' code, all named:
 * - LayerNorm: standard (biased variance, eps 1e-6 inside the square root), not XAttack's w·(x − μ)/(σ_unbiased + 1e-6)
 *   + b: the same choice as reclm's SASRec (docs/model-recipes.md §2), a factor ≈ √(63/64) at d = 64.
 * - GELU: the tanh approximation, which is what XAttack's own GELU class computes (no deviation, stated for clarity).
 * - Windows: the shared trainer cuts non-overlapping windows (LlamaRec's sliding_window_size 1.0); XAttack uses 0.5.
 * - Padding row: nn.Embedding(padding_idx=0) never updates row 0 from the lookup; here the lookup at padding does
 *   send it gradient, but padding positions are masked keys whose outputs never reach a loss, so that gradient is 0.
 *   Row 0 still learns through the tied head, as in PyTorch.
 */
import type { Builder, Init, Param, Tensor } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { headScores } from "./neural/head.ts";
import { FIELD } from "./neural/config.ts";
import { EMBEDDING_INITS, embeddingInit, TRUNC, type EmbeddingInit } from "./neural/inits.ts";
import { declareLayerNorm, declareLinear, type WeightBias } from "./neural/layers.ts";
import { EMBEDDED_PRESET, LLAMAREC_TRAINER, LRUREC_VALIDATION } from "./neural/presets.ts";

export interface BERT4RecConfig extends BaseModelConfig {
  /** Dropout on attention probabilities (XAttack `bert_attn_dropout`). Defaults to 0.1. */
  attnDropout: number;
  /** Attention heads; head size = hidden / heads. Defaults to 2. */
  heads: number;
  /** Transformer blocks. Defaults to 2. */
  blocks: number;
  /** Cloze masking probability per item (XAttack `bert_mask_prob`). Defaults to 0.2. */
  maskProb: number;
  /** At most this many masked items per sequence (XAttack `bert_max_predictions`). Defaults to 40. */
  maxPredictions: number;
  /**
   * Initialisation of the token and position embeddings: "normal" (default) = the recipe's nn.Embedding N(0, 1);
   * "truncated-normal" = reclm's named deviation for short budgets, as SASRec's (see neural/inits.ts).
   */
  embeddingInit: EmbeddingInit;
}

/** XAttack's ML-1M setting [docs/model-recipes.md §3] with LlamaRec's trainer settings [§0]. */
const DEFAULTS: BERT4RecConfig = {
  maxLen: 200,
  hidden: 64,
  /** Dropout on the embedding and after each sub-layer (XAttack `bert_dropout`). Defaults to 0.1. */
  dropout: 0.1,
  attnDropout: 0.1,
  heads: 2,
  blocks: 2,
  maskProb: 0.2,
  maxPredictions: 40,
  embeddingInit: "normal",
  batchSize: 128,
  evalBatchSize: 128,
  ...LLAMAREC_TRAINER,
  seed: 0,
};

/** §0 decay groups: names with "bias" or "layer_norm" get no weight decay. */
const decayOf = (name: string) => !name.includes("bias") && !name.includes("layer_norm");

interface Block {
  q: WeightBias;
  k: WeightBias;
  v: WeightBias;
  o: WeightBias;
  ln1: WeightBias;
  ffn1: WeightBias;
  ffn2: WeightBias;
  ln2: WeightBias;
}

export interface BERT4RecParams {
  token: Param;
  position: Param;
  embLn: WeightBias;
  blocks: Block[];
  head: WeightBias;
  outBias: Param;
}

const ML_100K: Partial<BERT4RecConfig> = { maxLen: 200, batchSize: 16, evalBatchSize: 16, dropout: 0.2, attnDropout: 0.2, maskProb: 0.2, maxPredictions: 40 };

export const BERT4Rec: NeuralModelDefinition<BERT4RecConfig, BERT4RecParams> = {
  name: "bert4rec",
  reference:
    "BERT4Rec (Sun et al., arXiv 1904.06690) as in the LlamaRec authors' XAttack code (docs/model-recipes.md §3): 2 post-LN " +
    "bidirectional blocks, 2 heads, tanh-GELU FFN 4d, tied GELU(Linear) head with bias, cloze masking; deviations: standard " +
    "LayerNorm (eps 1e-6), non-overlapping training windows",
  defaults: DEFAULTS,
  presets: {
    // LlamaRec "ML-100k" trainer settings (anchors §1.2: max_len 200, batch 16, dropout 0.2/0.2, validate every 500
    // iterations, patience 20, Recall@10) with XAttack's MovieLens masking (mask_prob 0.2, max_predictions 40).
    "ml-latest-small": ML_100K,
    "ml-100k": ML_100K,
    // XAttack set_template [docs/model-recipes.md §3].
    "ml-1m": { maxLen: 200, dropout: 0.1, attnDropout: 0.1, maskProb: 0.2, maxPredictions: 40, batchSize: 128, selectMetric: "NDCG@10", patience: 10, ...LRUREC_VALIDATION },
    beauty: { maxLen: 50, dropout: 0.5, attnDropout: 0.2, maskProb: 0.6, maxPredictions: 30 },
    games: { maxLen: 50, dropout: 0.5, attnDropout: 0.5, maskProb: 0.5, maxPredictions: 25 },
    steam: { maxLen: 50, dropout: 0.2, attnDropout: 0.2, maskProb: 0.4, maxPredictions: 20, ...LRUREC_VALIDATION },
    embedded: EMBEDDED_PRESET,
  },
  fieldSchemas: { attnDropout: FIELD.probability, heads: FIELD.positiveInt, blocks: FIELD.positiveInt, maskProb: FIELD.probability, maxPredictions: FIELD.positiveInt, embeddingInit: FIELD.oneOf(EMBEDDING_INITS) },
  objective: (c) => ({ kind: "cloze", maskProb: c.maskProb, maxPredictions: c.maxPredictions }),
  vocabSize: (nItems) => nItems + 2,
  windowLength: (config) => config.maxLen,
  windowInvariant: true,

  declare(store, ctx, config) {
    const D = config.hidden;
    const V = ctx.nItems + 2;
    if (!Number.isInteger(config.heads) || config.heads < 1 || D % config.heads !== 0) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `bert4rec: hidden ${D} must be a multiple of heads ${config.heads}`, { field: "heads" });
    }
    const add = (name: string, shape: number[], init: Init) => store.add(name, shape, { init, decay: decayOf(name) });
    const linear = (name: string, out: number, inp: number) => declareLinear(store, name, out, inp);
    const layerNorm = (name: string) => declareLayerNorm(store, name, D);
    const blocks: Block[] = [];
    for (let i = 0; i < config.blocks; i++) {
      const n = `blocks.${i}`;
      blocks.push({
        q: linear(`${n}.attn.q`, D, D),
        k: linear(`${n}.attn.k`, D, D),
        v: linear(`${n}.attn.v`, D, D),
        o: linear(`${n}.attn.out`, D, D),
        ln1: layerNorm(`${n}.input.layer_norm`),
        ffn1: linear(`${n}.ffn.w_1`, 4 * D, D),
        ffn2: linear(`${n}.ffn.w_2`, D, 4 * D),
        ln2: layerNorm(`${n}.output.layer_norm`),
      });
    }
    const head = linear("head.linear", D, D);
    const embInit = embeddingInit(config.embeddingInit);
    return {
      token: add("token.weight", [V, D], embInit),
      position: add("position.weight", [config.maxLen + 1, D], embInit),
      embLn: layerNorm("embedding.layer_norm"),
      blocks,
      head,
      outBias: add("head.bias", [V], TRUNC),
    };
  },

  afterInit(store, p) {
    // nn.Embedding(padding_idx=0) starts the padding row at zero.
    const token = p.token;
    const data = store.read(token);
    data.fill(0, 0, token.shape[1]);
    store.write(token, data);
  },

  encode(b, p, x, _ctx, config) {
    const [B, L] = x.ids.shape;
    const emb = b.add(b.embedding(p.token, x.ids), b.embedding(p.position, x.positions)); // [B, L, D]
    let h = b.dropout(b.layerNorm(emb, p.embLn.weight, p.embLn.bias, 1e-6), config.dropout); // [B, L, D]
    const keyMask = b.reshape(b.scale(b.addScalar(x.mask, -1), 1e9), [B, 1, 1, L]); // [B, 1, 1, L]: −1e9 at padding keys
    const attnMask = b.add(b.constant(0, [B, 1, L, L]), keyMask); // [B, 1, L, L]
    for (const blk of p.blocks) {
      const a = b.dropout(attention(b, blk, h, attnMask, config), config.dropout); // [B, L, D]
      h = b.layerNorm(b.add(h, a), blk.ln1.weight, blk.ln1.bias, 1e-6); // [B, L, D]
      const f = b.linear(b.gelu(b.linear(h, blk.ffn1.weight, blk.ffn1.bias)), blk.ffn2.weight, blk.ffn2.bias); // [B, L, D]
      h = b.layerNorm(b.add(h, b.dropout(f, config.dropout)), blk.ln2.weight, blk.ln2.bias, 1e-6); // [B, L, D]
    }
    return h; // [B, L, D]
  },

  scores(b, p, h, ctx) {
    const t = b.gelu(b.linear(h, p.head.weight, p.head.bias)); // [R, D]
    return headScores(b, ctx, t, p.token, p.outBias); // [R, N+2]
  },
};

/** Bidirectional multi-head attention with a key-padding mask and dropout on the probabilities. */
function attention(b: Builder, blk: Block, x: Tensor, attnMask: Tensor, config: BERT4RecConfig): Tensor {
  const [B, L, D] = x.shape;
  const H = config.heads;
  const dh = D / H;
  const heads = (l: WeightBias) => b.cont(b.permute(b.reshape(b.linear(x, l.weight, l.bias), [B, L, H, dh]), [0, 2, 1, 3])); // [B, H, L, dh]
  const q = heads(blk.q);
  const k = heads(blk.k);
  const v = heads(blk.v);
  const probs = b.softmax(b.matmulNT(q, k), { scale: 1 / Math.sqrt(dh), mask: attnMask }); // [B, H, L, L]
  const ctx = b.matmul(b.dropout(probs, config.attnDropout), v); // [B, H, L, dh]
  const merged = b.reshape(b.cont(b.permute(ctx, [0, 2, 1, 3])), [B, L, D]); // [B, L, D]
  return b.linear(merged, blk.o.weight, blk.o.bias); // [B, L, D]
}
