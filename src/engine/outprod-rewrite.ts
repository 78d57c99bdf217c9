import { ReclmError } from "../errors.ts";
import { GGML_TYPE, isContiguousNative, mulMatOpCode, setTensorOp, tensorLayout, tensorSrc, type Ggml, type Ptr } from "./ffi/ggml.ts";

const MAX_TRANSPOSE_COPY = 4_000_000;
/** Measured: GRU4Rec's per-time-step gates, 53 ms per step with OUT_PROD, 65 ms rewritten. */
const MIN_REWRITE_MACS = 8_000_000;
/**
 * A rewrite pays a copy (~2-3 ns per element measured inside a step; a transposing CONT) to save ~0.05-0.08 ns per
 * multiply-add (OUT_PROD at ~8-16 GMAC/s vs MUL_MAT at ~27, bench/engine/llm-step-profile.ts): the break-even is some
 * tens of multiply-adds per copied element, and where it lies depends on the OUT_PROD's shape, so the default is the
 * one measured on the retrievers and a graph may choose another (`CompileOptions.outProducts`). Measured in one
 * process, variants compiled side by side and run alternately (scratch A/B, 1 thread, CPU time): LRURec's ML-1M step
 * 1,891 ms at 100 vs 1,970 at 40 (median of 7, without a repeated control; 40 also rewrites its in/out-projection
 * weight gradients, whose OUT_PRODs keep a small [64 x 256] result in cache); SASRec's unchanged (2,360 vs 2,367).
 */
export const MIN_MACS_PER_COPY = 100;

/**
 * ggml's autodiff differentiates MUL_MAT with OUT_PROD (both operands' gradients), whose CPU kernel is a rank-1-update
 * loop several times slower than the tiled sgemm behind MUL_MAT (src/engine/README.md "Where a training step's time
 * goes"). An OUT_PROD node is therefore turned, in place, into the same product as a MUL_MAT:
 *   out_prod(a, b)[i, j] = Σ_k a[i, k]·b[j, k] = mul_mat(cont(aᵀ), cont(bᵀ))   (ggml order, broadcast over dims 2-3 alike)
 * The node keeps its tensor (shape, buffer, and every consumer's pointer to it, gradient slots included); only its op
 * and sources change. The graph is then re-expanded in the original order so the new transposes precede their node.
 * A transpose that is already contiguous (the transposed-gradient operand) costs no copy; any other is a ggml CONT,
 * so a node whose operands would need more than MAX_TRANSPOSE_COPY elements copied keeps its OUT_PROD (the output
 * head's dE: copying the [rows × items] gradient, at up to ~11 ns/element, costs more than the OUT_PROD it replaces),
 * and so do a product under MIN_REWRITE_MACS multiply-adds and one with fewer than `minMacsPerCopy` multiply-adds per
 * copied element (default MIN_MACS_PER_COPY; the decoder's graphs pass LLAMA_OUT_PRODUCTS, src/llm/llama.ts).
 * Measured (bench/engine/step-time.ts, ML-1M step, 1 thread, same losses): SASRec 4.46 s -> 3.72 s; LRURec unchanged
 * (4.85 s vs 4.91 s); rewriting every node instead made LRURec 57% slower.
 * RECLM_ENGINE_OUT_PROD=native keeps every OUT_PROD (for measuring the difference).
 */
export function outProductsAsMatmuls(ggml: Ggml, ctx: Ptr, gf: Ptr, maxNodes: number, minMacsPerCopy = MIN_MACS_PER_COPY): Ptr {
  const B = ggml.base;
  const n = Number(B.ggml_graph_n_nodes(gf));
  const nodes: Ptr[] = [];
  const outProds: Ptr[] = [];
  for (let i = 0; i < n; i++) {
    const node = B.ggml_graph_node(gf, i);
    nodes.push(node);
    if (String(B.ggml_op_desc(node)) === "OUT_PROD") outProds.push(node);
  }
  if (outProds.length === 0) return gf;
  const mulMat = mulMatOpCode(ggml);
  // MUL_MAT asserts nb[0] == sizeof(float) on its operands even where ne[0] == 1, which isContiguousNative ignores.
  const usableAsIs = (v: Ptr): boolean => isContiguousNative(v) && tensorLayout(v).nb[0] === 4;
  const numel = (ne: readonly number[]): number => ne.reduce((x, y) => x * y, 1);
  // Each rewrite adds at most 4 nodes (2 transposes, 2 copies).
  if (n + 4 * outProds.length >= maxNodes) {
    throw new ReclmError("RECLM_ERR_ENGINE", `graph has ${n} nodes + ${4 * outProds.length} for its matmul gradients, over maxNodes ${maxNodes}; raise it`);
  }
  for (const node of outProds) {
    const a = tensorSrc(node, 0);
    const b = tensorSrc(node, 1);
    if (!a || !b) throw new ReclmError("RECLM_ERR_ENGINE", "OUT_PROD node without two sources");
    const [la, lb, ln] = [tensorLayout(a), tensorLayout(b), tensorLayout(node)];
    if (la.type !== GGML_TYPE.F32 || lb.type !== GGML_TYPE.F32 || ln.type !== GGML_TYPE.F32) continue;
    // Small products (GRU4Rec's per-time-step gates) run faster through OUT_PROD than through three nodes.
    const macs = numel(ln.ne) * la.ne[1];
    if (macs < MIN_REWRITE_MACS) continue;
    const ta = B.ggml_transpose(ctx, a);
    const tb = B.ggml_transpose(ctx, b);
    const copies = (usableAsIs(ta) ? 0 : numel(la.ne)) + (usableAsIs(tb) ? 0 : numel(lb.ne));
    if (copies > MAX_TRANSPOSE_COPY || copies * minMacsPerCopy > macs) continue;
    setTensorOp(node, mulMat, usableAsIs(ta) ? ta : B.ggml_cont(ctx, ta), usableAsIs(tb) ? tb : B.ggml_cont(ctx, tb));
  }
  const out = B.ggml_new_graph_custom(ctx, maxNodes, false);
  for (const node of nodes) B.ggml_build_forward_expand(out, node);
  return out;
}
