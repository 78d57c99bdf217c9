/**
 * GRU4Rec — Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016 (arXiv 1511.06939),
 * as LLaRA (arXiv 2312.02445) trains it as one of its frozen recommenders: docs/model-recipes.md §5
 * [LLaRA recommender/A_SASRec_final_bce_llm.py `GRU`; DROS A_Gru_final_bce.py].
 *
 * Implemented: item embedding (N(0, 0.01²)) → one GRU layer (hidden = D, PyTorch gate order r, z, n, PyTorch's
 * default U(±1/√H) init) over the last `maxLen` items → the last hidden state → an untied Linear(D → V) with bias.
 * No dropout anywhere (none in LLaRA's class).
 *
 * Deviations from LLaRA's code, all named:
 * - Loss: full-softmax cross-entropy over all items ("last" objective), the recipe's "reclm choice" for full-ranking
 *   comparisons. LLaRA/DROS train BCE on the target plus one uniform negative; that recipe is not implemented here
 *   (the trainer's objectives have no sampled-negative BCE).
 * - Padding: reclm windows are LEFT-padded (LLaRA pads on the right and packs by length). The GRU carries its state
 *   through padding unchanged (h_t = h_{t-1} where mask_t = 0, h_0 = 0), so the state at the last position equals
 *   the packed GRU's final state: the same function, no packing needed.
 * - Head: V = N + 1 columns (column 0 = padding, never a target, masked at ranking); LLaRA's head has N columns and
 *   uses id N as padding.
 * - Optimiser: the shared trainer's AdamW with decoupled decay 1e-6 on every parameter and global clip 5.0
 *   (LLaRA: Adam with coupled L2 1e-6, no clipping), eps 1e-8 as LLaRA.
 */
import type { Builder, Init, Param, ParamStore, Tensor } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { headScores } from "./neural/head.ts";
import { LLARA_TRAINER } from "./neural/presets.ts";

/** GRU4Rec's hyper-parameters: only the shared ones (LLaRA's class has no other knob). */
export type GRU4RecConfig = BaseModelConfig;

/** LLaRA/DROS training setup [docs/model-recipes.md §5]. */
const DEFAULTS: GRU4RecConfig = {
  /** LLaRA pads histories to 10. */
  maxLen: 10,
  hidden: 64,
  /** No dropout in LLaRA's GRU; the shared field must stay 0 (declare refuses anything else). */
  dropout: 0,
  ...LLARA_TRAINER,
  seed: 0,
};

/** One GRU layer's parameters, PyTorch layout (gates stacked r, z, n along the first dim). */
export interface GruParams {
  /** [3H, In] */
  wIh: Param;
  /** [3H, H] */
  wHh: Param;
  /** [3H] */
  bIh: Param;
  /** [3H] */
  bHh: Param;
}

/**
 * Declares `<prefix>.weight_ih_l0`, `.weight_hh_l0`, `.bias_ih_l0`, `.bias_hh_l0` (nn.GRU's names).
 * `decay(name)` says which get weight decay.
 */
export function declareGru(store: ParamStore, prefix: string, inSize: number, hidden: number, init: Init, decay: (name: string) => boolean): GruParams {
  const add = (suffix: string, shape: number[]) => {
    const name = `${prefix}.${suffix}`;
    return store.add(name, shape, { init, decay: decay(name) });
  };
  return {
    wIh: add("weight_ih_l0", [3 * hidden, inSize]),
    wHh: add("weight_hh_l0", [3 * hidden, hidden]),
    bIh: add("bias_ih_l0", [3 * hidden]),
    bHh: add("bias_hh_l0", [3 * hidden]),
  };
}

export interface GruOutput {
  /** [B, H]: the state after the last position (= the last real item: windows are left-padded). */
  last: Tensor;
  /** [B, L, H]: the state at every position (0 at leading padding), when asked for. */
  states?: Tensor;
}

/**
 * nn.GRU (one layer, batch_first) unrolled over L with a padding-aware update:
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h,
 *   h_t = h_{t−1} + m_t ⊙ (h' − h_{t−1})   (m_t = 0 at padding keeps the state).
 * The input projections of all positions are one matmul; each step adds one [B, H]·[H, 3H] matmul and ~40 nodes
 * (forward), so an L = 200 window builds ~8k forward nodes.
 */
export function gru(b: Builder, p: GruParams, x: Tensor, mask: Tensor, options: { states?: boolean } = {}): GruOutput {
  const [B, L] = x.shape;
  const H = p.wHh.shape[1];
  const xT = b.cont(b.permute(x, [1, 0, 2])); // [L, B, In]: time-major so a step is a contiguous view
  const gi = b.linear(xT, p.wIh, p.bIh); // [L, B, 3H]
  const mT = b.reshape(b.cont(b.transpose(mask)), [L, B, 1]); // [L, B, 1]
  let h = b.constant(0, [B, H]); // [B, H]
  const states: Tensor[] = [];
  for (let t = 0; t < L; t++) {
    const gx = b.reshape(b.slice(gi, 0, t, 1), [B, 3 * H]); // [B, 3H]
    const gh = b.linear(h, p.wHh, p.bHh); // [B, 3H]
    const rz = b.sigmoid(b.add(b.slice(gx, 1, 0, 2 * H), b.slice(gh, 1, 0, 2 * H))); // [B, 2H]
    const r = b.slice(rz, 1, 0, H); // [B, H]
    const z = b.slice(rz, 1, H, H); // [B, H]
    const n = b.tanh(b.add(b.slice(gx, 1, 2 * H, H), b.mul(r, b.slice(gh, 1, 2 * H, H)))); // [B, H]
    const hNew = b.add(n, b.mul(z, b.sub(h, n))); // [B, H]  (1 − z)·n + z·h
    const m = b.reshape(b.slice(mT, 0, t, 1), [B, 1]); // [B, 1]
    h = b.add(h, b.mul(b.sub(hNew, h), m)); // [B, H]
    if (options.states) states.push(h);
  }
  return { last: h, states: options.states ? stackTime(b, states) : undefined };
}

/**
 * [B, H] × L → [B, L, H], concatenated as a balanced binary tree: the builder's concat accumulates into a full-size
 * buffer per part, so a flat concat of L parts costs O(L²·B·H) memory; the tree costs O(L·log L·B·H).
 */
export function stackTime(b: Builder, steps: readonly Tensor[]): Tensor {
  let level = steps.map((s) => b.reshape(s, [s.shape[0], 1, s.shape[1]])); // [B, 1, H] each
  while (level.length > 1) {
    const next: Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? b.concat([level[i], level[i + 1]], 1) : level[i]);
    level = next;
  }
  return level[0]; // [B, L, H]
}

/** nn.Linear's default init U(±1/√fanIn) for weight and bias (kaiming_uniform with a = √5). */
export function torchLinearInit(fanIn: number): Init {
  const a = 1 / Math.sqrt(fanIn);
  return { kind: "uniform", low: -a, high: a };
}

export interface GRU4RecParams {
  itemEmb: Param;
  gru: GruParams;
  outW: Param;
  outB: Param;
}

export const GRU4Rec: NeuralModelDefinition<GRU4RecConfig, GRU4RecParams> = {
  name: "gru4rec",
  reference:
    "GRU4Rec (Hidasi et al., arXiv 1511.06939) as LLaRA's rec model (docs/model-recipes.md §5): emb N(0,0.01²) → GRU(D) → " +
    "Linear(D→N+1); deviations: full-softmax CE instead of BCE+1 negative, left padding with a masked state update, AdamW (decoupled 1e-6) + clip 5",
  defaults: DEFAULTS,
  presets: {
    // LLaRA trains on MovieLens/Steam/LastFM with the same settings; ml-latest-small and embedded use them as-is.
    "ml-latest-small": {},
    embedded: {},
  },
  objective: () => ({ kind: "last" }),
  vocabSize: (nItems) => nItems + 1,
  windowLength: (config) => config.maxLen,
  windowInvariant: true,

  declare(store, ctx, config) {
    if (config.dropout !== 0) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `gru4rec has no dropout (LLaRA's GRU has none): dropout must stay 0, got ${config.dropout}`, { field: "dropout" });
    }
    const D = config.hidden;
    const V = ctx.nItems + 1;
    const itemEmb = store.add("item_emb", [V, D], { init: { kind: "normal", std: 0.01 }, decay: true });
    const g = declareGru(store, "gru", D, D, torchLinearInit(D), () => true);
    const outW = store.add("output.weight", [V, D], { init: torchLinearInit(D), decay: true });
    const outB = store.add("output.bias", [V], { init: torchLinearInit(D), decay: true });
    return { itemEmb, gru: g, outW, outB };
  },

  encode(b, p, x) {
    const e = b.embedding(p.itemEmb, x.ids); // [B, L, D]
    return gru(b, p.gru, e, x.mask).last; // [B, D]
  },

  scores(b, p, h, ctx) {
    return headScores(b, ctx, h, p.outW, p.outB); // [R, N+1]
  },
};
