/**
 * LRURec: "Linear Recurrent Units for Sequential Recommendation", Yue et al., WSDM'24, arXiv 2310.02367 (§3),
 * the retriever of LlamaRec (arXiv 2311.02089). Recipe: docs/model-recipes.md §0–§1, anchors.md §2.
 *
 * Implemented (as the authors' `model/lru.py`, identical in the LlamaRec and LRURec repos):
 *   embedding E [N+1, D] (row 0 trained) → Dropout → LayerNorm;
 *   left-pad with zero vectors to the next power of two Lp (200 → 256), mask padded with 0;
 *   2 × [ LRU layer: complex diagonal recurrence h_t = λ ⊙ h_{t-1} + γ ⊙ (W_in x_t + b_in), state S = 2D,
 *         λ = exp(−e^{ν_log} + i·e^{θ_log}), ring init |λ| ∈ [0.8, 0.99], γ = e^{γ_log} = √(1 − |λ|²) at init;
 *         the recursive parallel scan in log2(Lp) levels whose carry is dropped when the carrying position is padding
 *         (so the state starts at the first real item); Re(W_out h + b_out); Dropout; identity skip; LayerNorm
 *       → PFFN: LN(x + Dropout(W2·Dropout(GELU(W1 x + b1)) + b2)), D → 4D → D ];
 *   keep the last L positions; scores = h·Eᵀ + b.
 * Init: truncated normal (std 0.02, ±0.04) for everything but LayerNorms and params_log, biases included.
 * Weight decay: none on biases and LayerNorms; embeddings, weights and params_log are decayed (recipes §0).
 *
 * Complex numbers: the engine has no complex type, so a complex vector of size S is stored "packed" as one real
 * tensor [.., 2S] = [real | imag]. Then
 *   - in_proj (complex Linear D→S on a real input) is ONE real Linear D→2S whose weight rows 0..S−1 are Re(W_in)
 *     and rows S..2S−1 are Im(W_in) (bias likewise);
 *   - out_proj keeping the real part is ONE real Linear 2S→D with weight [Re(W_out) | −Im(W_out)] and bias Re(b_out):
 *     Re((h_r + i h_i)(W_r + i W_i)ᵀ + b) = h_r W_rᵀ − h_i W_iᵀ + b_r.
 *
 * Deviations from the authors' code (none changes the function computed; all change only parameter storage or
 * floating-point rounding):
 *   1. out_proj stores −Im(W_out) instead of Im(W_out). Truncated-normal init is symmetric and AdamW/decay are
 *      sign-symmetric, so the training dynamics are the same. Im(b_out) is omitted: it never reaches the real output,
 *      so in PyTorch it gets zero gradient and, being a bias, no decay; it stays at its init forever.
 *   2. λ^k is computed directly as e^{−k·ν}(cos kθ + i sin kθ) for k = 1..Lp/2, where the authors build the same
 *      powers by repeated complex products (cat(λs, λs·λs[−1])). Same values up to f32 rounding.
 *   3. GELU: the engine's `b.gelu` is the tanh approximation (ggml has no erf with backward); PyTorch's nn.GELU() is
 *      exact erf. Max |difference| over x ∈ [−10, 10] is about 4.7e-4 (at |x| ≈ 2.2; test/models/lrurec.test.ts measures
 *      it) — far below the run-to-run noise of training, so it is kept rather than composing a slower erf.
 *   4. The scan adds the carry λ^{1..l/2}·h1[last] into the second half of each block in place of the copy (ggml's ACC),
 *      instead of cat(h1, h2 + carry): the same sum, one copy of the block instead of two.
 *   5. By default (`scan: "chunked"`) the recurrence runs in chunks of 16 positions (`lruScanChunked`): one small matrix
 *      product per chunk and the authors' tree scan over the chunk ends only, the same states as their scan up to f32
 *      rounding (test/models/lrurec.test.ts compares states and gradients); `scan: "tree"` runs theirs.
 *
 * Training batches are packed (src/models/neural/packing.ts, `packedRowLength`): several users' windows end to end in
 * rows of Lp, the scan dropping a carry that crosses a segment boundary as it drops one from padding; each position
 * sees its own window only, as in the authors' padded batch (same loss and gradients up to float rounding), with a
 * fraction of the rows (ML-1M: about 71 of 128 on random batches). Evaluation and serving run padded windows.
 *
 * Shapes: PyTorch order (src/engine/tensor.ts). B batch, L window (maxLen), Lp = 2^⌈log2 L⌉, D hidden, S = 2D state,
 * C = 2S packed complex, V = N + 1 output columns.
 */
import { ReclmError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { Builder, Param, Tensor } from "../engine/index.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./neural/contract.ts";
import { headScores } from "./neural/head.ts";
import { FIELD } from "./neural/config.ts";
import { TRUNC } from "./neural/inits.ts";
import { declareLayerNorm, declareLinear, type WeightBias } from "./neural/layers.ts";
import { EMBEDDED_PRESET, LLAMAREC_TRAINER, LRUREC_VALIDATION } from "./neural/presets.ts";

export interface LRURecConfig extends BaseModelConfig {
  /** Dropout after the LRU output projection (`bert_attn_dropout`). Defaults to 0.2. */
  lruDropout: number;
  /** Number of [LRU + PFFN] blocks (`bert_num_blocks`). Defaults to 2. */
  blocks: number;
  /** Smallest |λ| of the ring init. Defaults to 0.8. */
  rMin: number;
  /** Largest |λ| of the ring init. Defaults to 0.99. */
  rMax: number;
  /**
   * How the recurrence is computed: "chunked" (default; chunks of 16 positions, `lruScanChunked`) or "tree" (the
   * authors' log2(L)-level parallel scan, `lruScan`). The same states up to float rounding; "tree" follows the
   * authors' order of operations, for comparisons with their code.
   */
  scan: LRUScanKind;
}

export const LRU_SCANS = ["chunked", "tree"] as const;
export type LRUScanKind = (typeof LRU_SCANS)[number];

/** LlamaRec's ml-latest-small ("ML-100k") setting: docs/model-recipes.md §1 presets, LlamaRec config.py `set_template`. */
export const LRUREC_DEFAULTS: LRURecConfig = {
  maxLen: 200,
  hidden: 64,
  dropout: 0.2,
  lruDropout: 0.2,
  blocks: 2,
  rMin: 0.8,
  rMax: 0.99,
  scan: "chunked",
  batchSize: 16,
  evalBatchSize: 16,
  ...LLAMAREC_TRAINER,
  seed: 42,
};

// LlamaRec config.py set_template: ML → max_len 200, batch 16 (its "ML-100k" is ml-latest-small; ML-100K gets the same).
const LLAMAREC_MOVIELENS: Partial<LRURecConfig> = { maxLen: 200, batchSize: 16, evalBatchSize: 16, validateEvery: 500, patience: 20 };
// LlamaRec: Amazon → max_len 50, batch 64. Dropout 0.6 is the LRURec README's tuned value for Beauty and Video; on
// Beauty it reaches LlamaRec's Table 1 LRURec figure where LlamaRec's 0.2 default falls short (docs/model-recipes.md).
const LLAMAREC_AMAZON: Partial<LRURecConfig> = { maxLen: 50, batchSize: 64, evalBatchSize: 64, validateEvery: 500, patience: 20, dropout: 0.6, lruDropout: 0.6 };

/** Per-dataset paper presets, keyed by dataset name (docs/model-recipes.md §1 "Presets"). */
export const LRUREC_PRESETS: Readonly<Record<string, Partial<LRURecConfig>>> = {
  "ml-latest-small": LLAMAREC_MOVIELENS,
  "ml-100k": LLAMAREC_MOVIELENS,
  beauty: LLAMAREC_AMAZON,
  games: LLAMAREC_AMAZON,
  // LRURec config.py set_template: ML-1M → max_len 200, batch 128/256, val every 500 it, patience 10.
  "ml-1m": { maxLen: 200, batchSize: 128, evalBatchSize: 256, validateEvery: 500, patience: 10, ...LRUREC_VALIDATION },
  // LRURec: Steam → max_len 50, val every 2000 it.
  steam: { maxLen: 50, batchSize: 128, evalBatchSize: 256, validateEvery: 2000, patience: 10, ...LRUREC_VALIDATION },
  embedded: EMBEDDED_PRESET,
};

interface BlockParams {
  /** [3, S]: rows ν_log, θ_log, γ_log. */
  paramsLog: Param;
  /** weight [C, D]: rows 0..S−1 = Re(W_in), S..2S−1 = Im(W_in); bias [C]: [Re(b_in) | Im(b_in)]. */
  inProj: WeightBias;
  /** weight [D, C]: [Re(W_out) | −Im(W_out)]; bias [D]: Re(b_out). */
  outProj: WeightBias;
  lruNorm: WeightBias;
  /** PFFN D → 4D → D. */
  ffn1: WeightBias;
  ffn2: WeightBias;
  ffnNorm: WeightBias;
}

export interface LRURecParams {
  /** [V, D], tied to the output. */
  itemEmb: Param;
  embNorm: WeightBias;
  blocks: BlockParams[];
  /** [V]. */
  outBias: Param;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The ring init of one LRU layer's params_log [3, S] (LRURec §3, recipes §1 "LRU init"):
 * ν_log = log(−½ log(u1(r_max² − r_min²) + r_min²)), θ_log = log(2π u2), γ_log = log √(1 − |λ|²).
 */
export function ringInit(state: number, rMin: number, rMax: number, rng: Rng): Float32Array {
  const out = new Float32Array(3 * state);
  for (let s = 0; s < state; s++) {
    const u1 = rng.next();
    let u2 = rng.next();
    while (u2 === 0) u2 = rng.next(); // log(0) would be −∞
    const nuLog = Math.log(-0.5 * Math.log(u1 * (rMax * rMax - rMin * rMin) + rMin * rMin));
    const thetaLog = Math.log(2 * Math.PI * u2);
    const modulus = Math.exp(-Math.exp(nuLog));
    out[s] = nuLog;
    out[state + s] = thetaLog;
    out[2 * state + s] = Math.log(Math.sqrt(1 - modulus * modulus));
  }
  return out;
}

function checkConfig(config: LRURecConfig): void {
  const bad = (field: string, why: string) => new ReclmError("RECLM_ERR_BAD_CONFIG", `lrurec: ${field} ${why}`, { field });
  if (!Number.isInteger(config.maxLen) || config.maxLen < 1) throw bad("maxLen", `must be a positive integer, got ${config.maxLen}`);
  if (!Number.isInteger(config.hidden) || config.hidden < 1) throw bad("hidden", `must be a positive integer, got ${config.hidden}`);
  if (!Number.isInteger(config.blocks) || config.blocks < 1) throw bad("blocks", `must be a positive integer, got ${config.blocks}`);
  if (!(config.rMin > 0 && config.rMin < config.rMax && config.rMax < 1)) {
    throw bad("rMin", `ring radii must satisfy 0 < rMin < rMax < 1, got ${config.rMin}, ${config.rMax}`);
  }
}

export const LRURec: NeuralModelDefinition<LRURecConfig, LRURecParams> = {
  name: "lrurec",
  reference:
    "LRURec (Yue et al., WSDM'24, arXiv 2310.02367 §3) as in the authors' model/lru.py (LlamaRec = LRURec repo): " +
    "emb+dropout+LN, pow2 left-pad, 2×[complex LRU with mask-aware log2(L) parallel scan + GELU PFFN], tied scores + bias. " +
    "Deviations: tanh-approx GELU (|Δ| < 5e-4), λ^k computed in closed form, out_proj stored as [Re W | −Im W] without Im b, " +
    "the scan in chunks of 16 with the tree over chunk ends (same states up to f32 rounding; scan: \"tree\" runs theirs).",
  defaults: LRUREC_DEFAULTS,
  presets: LRUREC_PRESETS,
  fieldSchemas: { lruDropout: FIELD.probability, blocks: FIELD.positiveInt, rMin: FIELD.positive, rMax: FIELD.positive, scan: FIELD.oneOf(LRU_SCANS) },
  objective: () => ({ kind: "causal" }),
  vocabSize: (nItems) => nItems + 1,
  // The power-of-two padding happens inside `encode` with zero vectors after the embedding LayerNorm, as the authors
  // do; the trainer's window is maxLen.
  windowLength: (config) => config.maxLen,
  windowInvariant: true,
  // Packed training rows (src/models/neural/packing.ts) as long as the scan's window: the scan drops every carry that
  // crosses a segment boundary, as it drops one from padding, so each example sees its own items only.
  packedRowLength: (config) => nextPowerOfTwo(config.maxLen),

  declare(store, ctx, config) {
    checkConfig(config);
    const D = config.hidden;
    const S = 2 * D;
    const V = ctx.nItems + 1;
    const itemEmb = store.add("item_emb", [V, D], { init: TRUNC, decay: true });
    const embNorm = declareLayerNorm(store, "emb_layer_norm", D);
    const blocks: BlockParams[] = [];
    for (let i = 0; i < config.blocks; i++) {
      const pre = `block${i}`;
      blocks.push({
        // ring init in afterInit (it is not one of the store's init kinds)
        paramsLog: store.add(`${pre}.lru.params_log`, [3, S], { init: { kind: "zeros" }, decay: true }),
        inProj: declareLinear(store, `${pre}.lru.in_proj`, 2 * S, D),
        outProj: declareLinear(store, `${pre}.lru.out_proj`, D, 2 * S),
        lruNorm: declareLayerNorm(store, `${pre}.lru.layer_norm`, D),
        ffn1: declareLinear(store, `${pre}.ffn.w1`, 4 * D, D),
        ffn2: declareLinear(store, `${pre}.ffn.w2`, D, 4 * D),
        ffnNorm: declareLayerNorm(store, `${pre}.ffn.layer_norm`, D),
      });
    }
    const outBias = store.add("out_bias", [V], { init: TRUNC, decay: false });
    return { itemEmb, embNorm, blocks, outBias };
  },

  /** The ring init of every block's params_log, drawn from the init stream after `store.initialize(rng)`. */
  afterInit(store, p, config, rng) {
    for (const block of p.blocks) store.write(block.paramsLog, ringInit(2 * config.hidden, config.rMin, config.rMax, rng));
  },

  encode(b, p, x, _ctx, config) {
    const [B, L] = x.ids.shape;
    const D = config.hidden;
    const S = 2 * D;
    const Lp = nextPowerOfTwo(L);

    let h = b.embedding(p.itemEmb, x.ids); // [B, L, D]
    h = b.dropout(h, config.dropout); // [B, L, D]
    h = b.layerNorm(h, p.embNorm.weight, p.embNorm.bias); // [B, L, D]
    let mask = x.mask; // [B, L]
    if (x.segments && Lp !== L) throw new ReclmError("RECLM_ERR_SHAPE", `lrurec: packed rows must be a power of two long, got ${L}`, { field: "packedRowLength" });
    if (Lp > L) {
      h = b.concat([b.constant(0, [B, Lp - L, D]), h], 1); // [B, Lp, D]
      mask = b.concat([b.constant(0, [B, Lp - L]), mask], 1); // [B, Lp]
    }

    const consts = config.scan === "tree" ? scanConstants(b, Lp, S, x.segments) : chunkedScanConstants(b, mask, S, x.segments);
    for (const block of p.blocks) {
      h = lruLayer(b, block, h, mask, consts, config); // [B, Lp, D]
      h = positionwiseFeedForward(b, block, h, config); // [B, Lp, D]
    }
    return Lp > L ? b.slice(h, 1, Lp - L, L) : h; // [B, L, D]
  },

  /** Tied output: h [R, D] · Eᵀ + b → [R, V]. */
  scores(b, p, h, ctx) {
    return headScores(b, ctx, h, p.itemEmb, p.outBias); // [R, V]
  },
};

/** Constants one encoder graph shares between its layers (built once per graph). */
export interface ScanConstants {
  /** [Lp/2, S]: row k−1 holds k (the exponent of λ^k). */
  exponents: Tensor;
  /**
   * Packed rows only, one per scan level l = 2, 4, …, Lp: [B·Lp/l, l/2, 1], 1 where a second-half position is in the
   * segment of its block's carrier (the last position of the first half), else 0: the carry stops at a later segment.
   */
  sameSegment?: Tensor[];
}

/** `segments` [B, Lp] (packed training rows, ./neural/packing.ts) adds `sameSegment`. */
export function scanConstants(b: Builder, Lp: number, S: number, segments?: Tensor): ScanConstants {
  const rows = Math.max(1, Lp / 2);
  const exponents = b.constant(exponentTable(rows, S), [rows, S]);
  if (!segments) return { exponents };
  const B = segments.shape[0];
  const sameSegment: Tensor[] = [];
  for (let l = 2; l <= Lp; l *= 2) {
    const half = l / 2;
    const nb = (B * Lp) / l;
    const seg = b.reshape(segments, [nb, l]); // [nb, l]
    const later = b.sub(b.slice(seg, 1, half, half), b.slice(seg, 1, half - 1, 1)); // [nb, half]: segments apart (>= 0)
    sameSegment.push(b.reshape(sameSegmentFlag(b, later), [nb, half, 1])); // [nb, half, 1]: 1 if apart by 0
  }
  return { exponents, sameSegment };
}

/** 1 where `later` (a later position's segment minus an earlier one's, >= 0: segments only grow along a row) is 0, else 0. */
function sameSegmentFlag(b: Builder, later: Tensor): Tensor {
  return b.relu(b.addScalar(b.neg(later), 1));
}

/** [rows, S]: row k holds k + first. */
function exponentTable(rows: number, S: number, first = 1): Float32Array {
  const t = new Float32Array(rows * S);
  for (let k = 0; k < rows; k++) t.fill(k + first, k * S, (k + 1) * S);
  return t;
}

/** Positions per chunk of `lruScanChunked`: one [K, K] product per chunk, then the tree scan over chunk ends. */
export const SCAN_CHUNK = 16;

/** Constants of the chunked scan, built once per encoder graph from its mask (and packed rows' segments). */
export interface ChunkedScanConstants {
  /** Positions per chunk (K) and chunks per row (Lc); K · Lc = Lp. */
  chunk: number;
  chunks: number;
  /** [K, S]: row k holds k (the exponents of λ^k and λ^−k within a chunk). */
  local: Tensor;
  /** [B·Lc, K, K]: coefficient of position j's input in position t's state: 1 at j = t, mask_j·[same segment] at j < t. */
  within: Tensor;
  /** Packed rows: [B·Lc, K, 1], 1 where position t is in the segment of the previous chunk's last position. */
  carryGate?: Tensor;
  /** [B, Lc]: the mask at each chunk's last position (its state carries on only when it is a real item). */
  endMask: Tensor;
  /** The tree scan's constants over the Lc chunk ends. */
  ends: ScanConstants;
}

/** `mask` [B, Lp]; `segments` [B, Lp] for packed training rows. */
export function chunkedScanConstants(b: Builder, mask: Tensor, S: number, segments?: Tensor): ChunkedScanConstants {
  const [B, Lp] = mask.shape;
  const K = Math.min(SCAN_CHUNK, Lp);
  const Lc = Lp / K;
  const nc = B * Lc;
  const local = b.constant(exponentTable(K, S, 0), [K, S]);
  const endOf = (x: Tensor) => b.reshape(b.slice(b.reshape(x, [B, Lc, K]), 2, K - 1, 1), [B, Lc]); // [B, Lc]
  let below = b.mul(b.repeat(b.reshape(mask, [nc, 1, K]), [nc, K, K]), b.constant(lowerTable(K), [K, K])); // [nc, K, K]: mask_j, j < t
  let carryGate: Tensor | undefined;
  let segEnds: Tensor | undefined;
  if (segments) {
    const segT = b.reshape(segments, [nc, K, 1]);
    below = b.mul(below, sameSegmentFlag(b, b.sub(b.repeat(segT, [nc, K, K]), b.repeat(b.reshape(segments, [nc, 1, K]), [nc, K, K])))); // [nc, K, K]
    segEnds = endOf(segments); // [B, Lc]
    // The first chunk of a row has no carry; any finite segment there does.
    const prevEnd = Lc > 1 ? b.concat([b.slice(segEnds, 1, 0, 1), b.slice(segEnds, 1, 0, Lc - 1)], 1) : segEnds; // [B, Lc]
    carryGate = sameSegmentFlag(b, b.sub(segT, b.reshape(prevEnd, [nc, 1, 1]))); // [nc, K, 1]
  }
  return {
    chunk: K,
    chunks: Lc,
    local,
    within: b.add(below, b.constant(identityTable(K), [K, K])),
    ...(carryGate ? { carryGate } : {}),
    endMask: endOf(mask),
    ends: scanConstants(b, Lc, S, segEnds),
  };
}

function lowerTable(K: number): Float32Array {
  const t = new Float32Array(K * K);
  for (let i = 0; i < K; i++) t.fill(1, i * K, i * K + i);
  return t;
}

function identityTable(K: number): Float32Array {
  const t = new Float32Array(K * K);
  for (let i = 0; i < K; i++) t[i * K + i] = 1;
  return t;
}

/** Multiplies packed complex x [.., C = 2S] by the complex (re, im) [.., S] (broadcast): x ⊙ [re | re] + swap(x) ⊙ [−im | im]. */
function complexScale(b: Builder, x: Tensor, re: Tensor, im: Tensor): Tensor {
  return b.add(b.mul(x, b.concat([re, re], -1)), b.mul(b.swapHalves(x), b.concat([b.neg(im), im], -1)));
}

/**
 * The same function as `lruScan` (same states at every real position; a padding position keeps its own input), in
 * chunks of K positions: within a chunk, h_t = λ^t · Σ_{j <= t} G[t, j] · λ^−j u_j (local t, j) is ONE batched [K, K]
 * product with G = the mask and segment gates; the chunks' last states then go through the tree scan with λ^K, and
 * each chunk adds λ^{t+1} times the previous chunk's end. The tree scan touches the whole activation at each of its
 * log2(Lp) levels; this touches it a fixed few times. λ^−j stays within λ^−(K−1): e^{15ν} is finite for any |λ| above
 * 0.003 (trained LRURec layers keep |λ| near the ring init's [0.8, 0.99]). `gamma` [1, S] (real), when given, scales
 * the input first (γ ⊙ u), folded into the λ^−j table instead of a pass over u.
 */
export function lruScanChunked(b: Builder, u: Tensor, nu: Tensor, theta: Tensor, cc: ChunkedScanConstants, gamma?: Tensor): Tensor {
  const [B, Lp, C] = u.shape;
  if (Lp === 1) return gamma ? b.mul(u, b.concat([gamma, gamma], 1)) : u;
  const { chunk: K, chunks: Lc } = cc;
  const nc = B * Lc;
  const decay = b.mul(cc.local, nu); // [K, S]: kν
  const angle = b.mul(cc.local, theta); // [K, S]: kθ
  const cos = b.cos(angle), sin = b.sin(angle);
  const shrink = b.exp(b.neg(decay)), grow = b.exp(decay);
  const powRe = b.mul(shrink, cos), powIm = b.mul(shrink, sin); // [K, S]: λ^k
  const inverse = gamma ? b.mul(grow, gamma) : grow; // [K, S]: |λ^−j|, times γ when given
  const v = complexScale(b, b.reshape(u, [nc, K, C]), b.mul(inverse, cos), b.neg(b.mul(inverse, sin))); // [nc, K, C]: λ^−j (γ) u_j
  let x = b.matmul(cc.within, v); // [nc, K, C]: Σ_j G[t, j] λ^−j u_j
  if (Lc > 1) {
    const last = (t: Tensor) => b.slice(t, 0, K - 1, 1); // [1, S]
    const endLocal = complexScale(b, b.slice(x, 1, K - 1, 1), last(powRe), last(powIm)); // [nc, 1, C]: a chunk's own end state
    const ends = lruScan(b, b.reshape(endLocal, [B, Lc, C]), cc.endMask, b.scale(nu, K), b.scale(theta, K), cc.ends); // [B, Lc, C]
    const one = (t: Tensor) => b.slice(t, 0, 1, 1); // [1, S]: λ^1
    const carried = complexScale(b, b.mul(ends, b.reshape(cc.endMask, [B, Lc, 1])), one(powRe), one(powIm)); // [B, Lc, C]
    const fromPrevious = b.concat([b.constant(0, [B, 1, C]), b.slice(carried, 1, 0, Lc - 1)], 1); // [B, Lc, C]
    let carry = b.repeat(b.reshape(fromPrevious, [nc, 1, C]), [nc, K, C]); // [nc, K, C]
    if (cc.carryGate) carry = b.mul(carry, cc.carryGate);
    x = b.add(x, carry); // [nc, K, C]: λ^{−t}·(the earlier chunks' part of h_t) added
  }
  return b.reshape(complexScale(b, x, powRe, powIm), [B, Lp, C]); // [B, Lp, C]
}

/** One LRU layer: LN(Dropout(Re(W_out · scan(γ ⊙ (W_in x + b_in)) + b_out)) + x). */
function lruLayer(b: Builder, p: BlockParams, x: Tensor, mask: Tensor, consts: ScanConstants | ChunkedScanConstants, config: LRURecConfig): Tensor {
  const nu = b.exp(b.slice(p.paramsLog, 0, 0, 1)); // [1, S]
  const theta = b.exp(b.slice(p.paramsLog, 0, 1, 1)); // [1, S]
  const gamma = b.exp(b.slice(p.paramsLog, 0, 2, 1)); // [1, S]

  const projected = b.linear(x, p.inProj.weight, p.inProj.bias); // [B, Lp, C]: W_in x + b_in
  const h = "chunk" in consts
    ? lruScanChunked(b, projected, nu, theta, consts, gamma) // γ folded into the scan's first product
    : lruScan(b, b.mul(projected, b.concat([gamma, gamma], 1)), mask, nu, theta, consts); // [B, Lp, C]: scan of γ ⊙ (W_in x + b_in)
  const y = b.linear(h, p.outProj.weight, p.outProj.bias); // [B, Lp, D]: Re(W_out h + b_out)
  return b.layerNorm(b.add(b.dropout(y, config.lruDropout), x), p.lruNorm.weight, p.lruNorm.bias); // [B, Lp, D]
}

/**
 * The authors' parallel scan of h_t = λ ⊙ h_{t−1} + u_t over log2(Lp) levels. At level i (blocks of l = 2^i), the
 * second half of each block gets λ^{1..l/2} times the last state of the first half, unless that position is padding.
 * u and the result are packed complex [B, Lp, C = 2S]; nu, theta are e^{ν_log}, e^{θ_log} [1, S].
 * With `consts.sameSegment` (packed training rows), a carry also stops at the first position of a later segment.
 */
export function lruScan(b: Builder, u: Tensor, mask: Tensor, nu: Tensor, theta: Tensor, consts: ScanConstants): Tensor {
  const [B, Lp, C] = u.shape;
  if (Lp === 1) return u;
  const half0 = Lp / 2;
  const exps = b.slice(consts.exponents, 0, 0, half0); // [Lp/2, S]: k
  const modulus = b.exp(b.neg(b.mul(exps, nu))); // [Lp/2, S]: e^{−kν} = |λ^k|
  const angle = b.mul(exps, theta); // [Lp/2, S]: kθ
  const powRe = b.mul(modulus, b.cos(angle)); // [Lp/2, S]: Re λ^k
  const powIm = b.mul(modulus, b.sin(angle)); // [Lp/2, S]: Im λ^k
  const sameRe = b.concat([powRe, powRe], 1); // [Lp/2, C]: multiplies [y_r | y_i]
  const crossIm = b.concat([b.neg(powIm), powIm], 1); // [Lp/2, C]: multiplies [y_i | y_r]

  let h = u; // [B, Lp, C]
  for (let l = 2; l <= Lp; l *= 2) {
    const half = l / 2;
    const nb = (B * Lp) / l;
    const blocks = b.reshape(h, [nb, l, C]); // [nb, l, C]
    const carrier = b.slice(blocks, 1, half - 1, 1); // [nb, 1, C]: h1[last]
    const carrierReal = b.reshape(b.slice(b.reshape(mask, [nb, l]), 1, half - 1, 1), [nb, 1, 1]); // [nb, 1, 1]
    const y = b.mul(carrier, carrierReal); // [nb, 1, C]: carry dropped at padding
    const ySwap = b.swapHalves(y); // [nb, 1, C]: [y_i | y_r]
    const a = b.slice(sameRe, 0, 0, half); // [half, C]: Re λ^{1..half}
    const c = b.slice(crossIm, 0, 0, half); // [half, C]: ∓Im λ^{1..half}
    let carry = b.add(b.mul(b.repeat(y, [nb, half, C]), a), b.mul(b.repeat(ySwap, [nb, half, C]), c)); // [nb, half, C]: λ^k ⊙ h1[last]
    const same = consts.sameSegment?.[Math.log2(l) - 1];
    if (same) carry = b.mul(carry, same); // [nb, half, C]: stopped at a later segment
    h = b.reshape(b.addInto(blocks, carry, 1, half), [B, Lp, C]); // [B, Lp, C]: h2 += carry
  }
  return h;
}

/** PFFN: LN(x + Dropout(W2 · Dropout(GELU(W1 x + b1)) + b2)). */
function positionwiseFeedForward(b: Builder, p: BlockParams, x: Tensor, config: LRURecConfig): Tensor {
  const inner = b.dropout(b.gelu(b.linear(x, p.ffn1.weight, p.ffn1.bias)), config.dropout); // [B, Lp, 4D]
  const out = b.dropout(b.linear(inner, p.ffn2.weight, p.ffn2.bias), config.dropout); // [B, Lp, D]
  return b.layerNorm(b.add(out, x), p.ffnNorm.weight, p.ffnNorm.bias); // [B, Lp, D]
}
