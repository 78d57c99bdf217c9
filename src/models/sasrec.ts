/**
 * SASRec: Self-Attentive Sequential Recommendation (Kang & McAuley, ICDM 2018, arXiv:1808.09781), as the LlamaRec /
 * LRURec authors' own code builds it (docs/model-recipes.md §2: XAttack model/sasrec.py + model/attention.py) and
 * trained with LlamaRec's objective (full-softmax cross-entropy at every position, ignore label 0: recipes §0).
 *
 * Implemented: learned item + position embeddings (positions counted from the first real item, 0 at padding), 2 blocks
 * of [Q from LN1(x), K/V from the un-normalised x, 2 heads, no output projection, x ← LN2(attn + LN1(x)),
 * FFN d→4d→d with ReLU, x ← LN3(ffn + x)], no final LN, tied output head without bias.
 * The padding-query quirk (every key masked to the same −1e9, so a padding row attends uniformly to all L keys, future
 * included) is reproduced: masked scores are set to exactly −1e9 with zero gradient, as `masked_fill` does.
 *
 * Deviations from the authors' code (named, all small):
 * - LayerNorm: standard LN (biased variance, eps 1e-6 inside the sqrt) instead of XAttack's `(x−mean)/(std_unbiased+1e-6)`
 *   (recipes §2 "reclm choice"; bench/torch/models.py makes the same choice).
 * - `padding_idx=0`: PyTorch blocks the gradient into item-embedding row 0 from the input lookup; here row 0 also gets
 *   gradient from padding inputs. Those inputs only reach the single loss row that predicts seq[0] (their keys are
 *   masked for every real query), and row 0 is trained through the tied output column 0 in both.
 */
import type { Param, Tensor } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { headScores } from "./neural/head.ts";
import { FIELD } from "./neural/config.ts";
import { EMBEDDING_INITS, embeddingInit, type EmbeddingInit } from "./neural/inits.ts";
import { declareLayerNorm, declareLinear, type WeightBias } from "./neural/layers.ts";
import { EMBEDDED_PRESET, LLAMAREC_TRAINER, LRUREC_VALIDATION } from "./neural/presets.ts";

export interface SASRecConfig extends BaseModelConfig {
  /** Transformer blocks. Defaults to 2 (recipes §2, `bert_num_blocks`). */
  blocks: number;
  /** Attention heads; head size = hidden / heads. Defaults to 2 (head size 32). */
  heads: number;
  /** Dropout on the attention probabilities (`bert_attn_dropout`). Defaults to 0.2. */
  attnDropout: number;
  /** LayerNorm epsilon. Defaults to 1e-6 (XAttack's LN constant). */
  layerNormEps: number;
  /**
   * Initialisation of the item and position embeddings: "normal" (default) = the recipe's PyTorch nn.Embedding
   * N(0, 1); "truncated-normal" = reclm's named deviation for short budgets (see neural/inits.ts).
   */
  embeddingInit: EmbeddingInit;
}

/** LlamaRec's "ML-100k" (= ml-latest-small) template: recipes §1 presets table, shared by SASRec (§2 "presets"). */
const DEFAULTS: SASRecConfig = {
  maxLen: 200,
  hidden: 64,
  dropout: 0.2,
  batchSize: 16,
  evalBatchSize: 16,
  ...LLAMAREC_TRAINER,
  seed: 42,
  blocks: 2,
  heads: 2,
  attnDropout: 0.2,
  layerNormEps: 1e-6,
  embeddingInit: "normal",
};

/** Per-dataset presets (recipes §1 presets table; §2: "as LRURec's for the same dataset"). */
const PRESETS: Record<string, Partial<SASRecConfig>> = {
  "ml-latest-small": {},
  "ml-100k": {},
  beauty: { maxLen: 50, batchSize: 64, evalBatchSize: 64 },
  games: { maxLen: 50, batchSize: 64, evalBatchSize: 64 },
  "ml-1m": { maxLen: 200, batchSize: 128, evalBatchSize: 256, patience: 10, ...LRUREC_VALIDATION },
  steam: { maxLen: 50, batchSize: 128, evalBatchSize: 256, validateEvery: 2000, patience: 10, ...LRUREC_VALIDATION },
  // reclm's own preset (not a paper's): the short embedded runs cannot afford the recipe's N(0, 1) slow start.
  embedded: { ...EMBEDDED_PRESET, embeddingInit: "truncated-normal" },
};

interface SASRecBlock {
  /** LayerNorm of the queries' input (keys and values read the un-normalised x). */
  ln1: WeightBias;
  q: WeightBias;
  k: WeightBias;
  v: WeightBias;
  /** After attention + residual. */
  ln2: WeightBias;
  ffn1: WeightBias;
  ffn2: WeightBias;
  /** After the FFN + residual. */
  ln3: WeightBias;
}

export interface SASRecParams {
  itemEmb: Param;
  posEmb: Param;
  blocks: SASRecBlock[];
}

export const SASRec: NeuralModelDefinition<SASRecConfig, SASRecParams> = {
  name: "sasrec",
  reference:
    "SASRec (Kang & McAuley 2018, arXiv:1808.09781) per docs/model-recipes.md §2 (LlamaRec/LRURec authors' XAttack code), full-softmax CE; deviations: standard LN, padding-row gradient",
  defaults: DEFAULTS,
  presets: PRESETS,
  fieldSchemas: {
    blocks: FIELD.positiveInt,
    heads: FIELD.positiveInt,
    attnDropout: FIELD.probability,
    layerNormEps: FIELD.positive,
    embeddingInit: FIELD.oneOf(EMBEDDING_INITS),
  },
  objective: () => ({ kind: "causal" }),
  vocabSize: (nItems) => nItems + 1,
  windowLength: (c) => c.maxLen,
  windowInvariant: true,

  declare(store, ctx, c) {
    const D = c.hidden;
    if (D % c.heads !== 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `sasrec: hidden ${D} must be divisible by heads ${c.heads}`, { field: "heads" });
    // PyTorch nn.Embedding default init N(0, 1); row 0 zero (padding_idx). XAttack's truncated-normal loop skips them.
    const embInit = embeddingInit(c.embeddingInit);
    const itemEmb = store.add("item_emb", [ctx.nItems + 1, D], { init: embInit });
    const posEmb = store.add("pos_emb", [c.maxLen + 1, D], { init: embInit });
    const blocks: SASRecBlock[] = [];
    for (let i = 0; i < c.blocks; i++) {
      const ln = (n: string) => declareLayerNorm(store, `block${i}.${n}`, D);
      const linear = (n: string, out: number, inp: number) => declareLinear(store, `block${i}.${n}`, out, inp);
      blocks.push({
        ln1: ln("layer_norm1"),
        q: linear("attn.q", D, D),
        k: linear("attn.k", D, D),
        v: linear("attn.v", D, D),
        ln2: ln("layer_norm2"),
        ffn1: linear("ffn.w1", 4 * D, D),
        ffn2: linear("ffn.w2", D, 4 * D),
        ln3: ln("layer_norm3"),
      });
    }
    return { itemEmb, posEmb, blocks };
  },

  /** Row 0 of the item table starts at zero (padding_idx); the store's init drew it from N(0,1), so zero it once. */
  afterInit(store, p) {
    const data = store.read(p.itemEmb);
    data.fill(0, 0, p.itemEmb.shape[1]);
    store.write(p.itemEmb, data);
  },

  encode(b, p, x, _ctx, c) {
    const [B, L] = x.ids.shape;
    const D = c.hidden;
    const H = c.heads;
    const dk = D / H;
    // Embedding: Dropout(E[x] + P[pos]), no sqrt(d) scaling, no LN.
    let h = b.dropout(b.add(b.embedding(p.itemEmb, x.ids), b.embedding(p.posEmb, x.positions)), c.dropout); // [B, L, D]
    // masked_fill(-1e9) for causal + key padding, as keep·s + (keep-1)·1e9 with keep = [key j <= query i and real]:
    // the value is exactly -1e9 where masked AND the gradient there is exactly 0, as masked_fill's is. (A plain additive
    // mask would leak a gradient through fully masked padding rows, whose softmax is uniform, not ~0.)
    const tril = b.constant(causalOnes(L), [1, 1, L, L]); // [1, 1, L, L]
    const keys = b.reshape(x.mask, [B, 1, 1, L]); // [B, 1, 1, L]
    const keep = b.mul(b.mul(b.constant(1, [B, 1, L, L]), keys), tril); // [B, 1, L, L] (broadcast is one-way)
    const fill = b.scale(b.addScalar(keep, -1), 1e9); // [B, 1, L, L]: 0 or -1e9
    const heads = (t: Tensor) => b.permute(b.reshape(t, [B, L, H, dk]), [0, 2, 1, 3]); // [B, H, L, dk]
    for (const blk of p.blocks) {
      const q = b.layerNorm(h, blk.ln1.weight, blk.ln1.bias, c.layerNormEps); // [B, L, D]
      const Q = heads(b.linear(q, blk.q.weight, blk.q.bias)); // [B, H, L, dk]
      const K = heads(b.linear(h, blk.k.weight, blk.k.bias)); // [B, H, L, dk]
      const V = heads(b.linear(h, blk.v.weight, blk.v.bias)); // [B, H, L, dk]
      // softmax(keep·s·scale + fill) in one native op: masked entries are still exactly -1e9 (0·scale - 1e9) with zero
      // gradient (the product with keep), and neither the scaled nor the masked [B, H, L, L] copy is materialised.
      const probs = b.dropout(b.softmax(b.mul(b.matmulNT(Q, K), keep), { scale: 1 / Math.sqrt(dk), mask: fill }), c.attnDropout); // [B, H, L, L]
      const ctxv = b.matmul(probs, V); // [B, H, L, dk]
      const attn = b.reshape(b.cont(b.permute(ctxv, [0, 2, 1, 3])), [B, L, D]); // [B, L, D], no output projection
      h = b.layerNorm(b.add(attn, q), blk.ln2.weight, blk.ln2.bias, c.layerNormEps); // [B, L, D]
      const f1 = b.dropout(b.relu(b.linear(h, blk.ffn1.weight, blk.ffn1.bias)), c.dropout); // [B, L, 4D]
      const f2 = b.dropout(b.linear(f1, blk.ffn2.weight, blk.ffn2.bias), c.dropout); // [B, L, D]
      h = b.layerNorm(b.add(f2, h), blk.ln3.weight, blk.ln3.bias, c.layerNormEps); // [B, L, D]
    }
    return h; // [B, L, D]
  },

  scores(b, p, h, ctx) {
    return headScores(b, ctx, h, p.itemEmb); // [R, N+1], tied, no bias
  },
};

function causalOnes(L: number): Float32Array {
  const m = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = 0; j <= i; j++) m[i * L + j] = 1;
  return m;
}
