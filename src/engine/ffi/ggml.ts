/**
 * koffi bindings to ggml (libggml-base + the best libggml-cpu-<arch> variant) shipped by node-llama-cpp 3.21.1.
 * Prototypes are copied from the matching headers (/tmp/llama.cpp/ggml/include: ggml.h, ggml-alloc.h,
 * ggml-backend.h, ggml-cpu.h). Struct layouts MUST track those headers exactly, hence the pinned version.
 * This file and libc.ts (prctl, for the training child) are the only importers of koffi; library.ts finds the files.
 */
import koffi, { type LibraryHandle } from "koffi";
import { ReclmError } from "../../errors.ts";
import { locateGgml } from "./library.ts";

/** Opaque native pointer (a koffi External). */
export type Ptr = unknown;

/** ggml_type values used by reclm (ggml.h `enum ggml_type`). */
export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, I32: 26, BF16: 30 } as const;
export const GGML_OP_POOL = { MAX: 0, AVG: 1 } as const;
export const GGML_ROPE_TYPE = { NORMAL: 0, NEOX: 2 } as const;

koffi.opaque("ggml_context");
koffi.opaque("ggml_tensor");
koffi.opaque("ggml_cgraph");
koffi.opaque("ggml_backend");
koffi.opaque("ggml_backend_buffer");
koffi.opaque("ggml_backend_buffer_type");
koffi.opaque("ggml_gallocr");
koffi.struct("ggml_init_params", { mem_size: "size_t", mem_buffer: "void *", no_alloc: "bool" });
/** The leading fields of `struct ggml_tensor` (ggml.h), enough to read a tensor's layout. */
const TensorHead = koffi.struct("ggml_tensor_head", {
  type: "int",
  buffer: "void *",
  ne: koffi.array("int64_t", 4),
  nb: koffi.array("uint64_t", 4),
});

function bindBase(lib: LibraryHandle) {
  const f = (proto: string) => lib.func(proto);
  return {
    ggml_init: f("ggml_context * ggml_init(ggml_init_params params)"),
    ggml_free: f("void ggml_free(ggml_context * ctx)"),
    ggml_tensor_overhead: f("size_t ggml_tensor_overhead()"),
    ggml_graph_overhead_custom: f("size_t ggml_graph_overhead_custom(size_t size, bool grads)"),
    ggml_new_tensor_1d: f("ggml_tensor * ggml_new_tensor_1d(ggml_context * ctx, int type, int64_t ne0)"),
    ggml_new_tensor_2d: f("ggml_tensor * ggml_new_tensor_2d(ggml_context * ctx, int type, int64_t ne0, int64_t ne1)"),
    ggml_new_tensor_3d: f(
      "ggml_tensor * ggml_new_tensor_3d(ggml_context * ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2)",
    ),
    ggml_new_tensor_4d: f(
      "ggml_tensor * ggml_new_tensor_4d(ggml_context * ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)",
    ),
    ggml_set_name: f("ggml_tensor * ggml_set_name(ggml_tensor * t, const char * name)"),
    ggml_set_param: f("void ggml_set_param(ggml_tensor * t)"),
    ggml_set_loss: f("void ggml_set_loss(ggml_tensor * t)"),
    ggml_set_input: f("void ggml_set_input(ggml_tensor * t)"),
    ggml_set_output: f("void ggml_set_output(ggml_tensor * t)"),
    ggml_nbytes: f("size_t ggml_nbytes(const ggml_tensor * t)"),

    // tensor types and quantization
    ggml_blck_size: f("int64_t ggml_blck_size(int type)"),
    ggml_type_size: f("size_t ggml_type_size(int type)"),
    ggml_row_size: f("size_t ggml_row_size(int type, int64_t ne)"),
    ggml_type_name: f("const char * ggml_type_name(int type)"),
    ggml_is_quantized: f("bool ggml_is_quantized(int type)"),
    ggml_get_type_traits: f("const void * ggml_get_type_traits(int type)"),
    ggml_quantize_requires_imatrix: f("bool ggml_quantize_requires_imatrix(int type)"),
    ggml_quantize_chunk: f(
      "size_t ggml_quantize_chunk(int type, const float * src, _Out_ uint8_t * dst, int64_t start, int64_t nrows, int64_t n_per_row, const float * imatrix)",
    ),

    // binary / unary ops
    ggml_add: f("ggml_tensor * ggml_add(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_sub: f("ggml_tensor * ggml_sub(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_mul: f("ggml_tensor * ggml_mul(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_div: f("ggml_tensor * ggml_div(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_scale: f("ggml_tensor * ggml_scale(ggml_context * ctx, ggml_tensor * a, float s)"),
    ggml_repeat: f("ggml_tensor * ggml_repeat(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_repeat_4d: f("ggml_tensor * ggml_repeat_4d(ggml_context * ctx, ggml_tensor * a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)"),
    ggml_sqr: f("ggml_tensor * ggml_sqr(ggml_context * ctx, ggml_tensor * a)"),
    ggml_sqrt: f("ggml_tensor * ggml_sqrt(ggml_context * ctx, ggml_tensor * a)"),
    ggml_log: f("ggml_tensor * ggml_log(ggml_context * ctx, ggml_tensor * a)"),
    ggml_exp: f("ggml_tensor * ggml_exp(ggml_context * ctx, ggml_tensor * a)"),
    ggml_sin: f("ggml_tensor * ggml_sin(ggml_context * ctx, ggml_tensor * a)"),
    ggml_cos: f("ggml_tensor * ggml_cos(ggml_context * ctx, ggml_tensor * a)"),
    ggml_neg: f("ggml_tensor * ggml_neg(ggml_context * ctx, ggml_tensor * a)"),
    ggml_abs: f("ggml_tensor * ggml_abs(ggml_context * ctx, ggml_tensor * a)"),
    ggml_relu: f("ggml_tensor * ggml_relu(ggml_context * ctx, ggml_tensor * a)"),
    ggml_silu: f("ggml_tensor * ggml_silu(ggml_context * ctx, ggml_tensor * a)"),
    ggml_softplus: f("ggml_tensor * ggml_softplus(ggml_context * ctx, ggml_tensor * a)"),
    ggml_sum: f("ggml_tensor * ggml_sum(ggml_context * ctx, ggml_tensor * a)"),
    ggml_sum_rows: f("ggml_tensor * ggml_sum_rows(ggml_context * ctx, ggml_tensor * a)"),
    ggml_clamp: f("ggml_tensor * ggml_clamp(ggml_context * ctx, ggml_tensor * a, float min, float max)"),
    ggml_rms_norm: f("ggml_tensor * ggml_rms_norm(ggml_context * ctx, ggml_tensor * a, float eps)"),
    ggml_mul_mat: f("ggml_tensor * ggml_mul_mat(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_get_rows: f("ggml_tensor * ggml_get_rows(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_soft_max_ext: f(
      "ggml_tensor * ggml_soft_max_ext(ggml_context * ctx, ggml_tensor * a, ggml_tensor * mask, float scale, float max_bias)",
    ),
    ggml_diag_mask_inf: f("ggml_tensor * ggml_diag_mask_inf(ggml_context * ctx, ggml_tensor * a, int n_past)"),
    ggml_swiglu_split: f("ggml_tensor * ggml_swiglu_split(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_rope_ext: f(
      "ggml_tensor * ggml_rope_ext(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b, ggml_tensor * c, int n_dims, int mode, int n_ctx_orig, float freq_base, float freq_scale, float ext_factor, float attn_factor, float beta_fast, float beta_slow)",
    ),
    ggml_im2col: f(
      "ggml_tensor * ggml_im2col(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b, int s0, int s1, int p0, int p1, int d0, int d1, bool is_2D, int dst_type)",
    ),
    ggml_pool_2d: f(
      "ggml_tensor * ggml_pool_2d(ggml_context * ctx, ggml_tensor * a, int op, int k0, int k1, int s0, int s1, float p0, float p1)",
    ),
    ggml_acc: f(
      "ggml_tensor * ggml_acc(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b, size_t nb1, size_t nb2, size_t nb3, size_t offset)",
    ),
    ggml_cross_entropy_loss: f(
      "ggml_tensor * ggml_cross_entropy_loss(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)",
    ),
    ggml_opt_step_adamw: f(
      "ggml_tensor * ggml_opt_step_adamw(ggml_context * ctx, ggml_tensor * a, ggml_tensor * grad, ggml_tensor * m, ggml_tensor * v, ggml_tensor * adamw_params)",
    ),

    // layout
    ggml_cont: f("ggml_tensor * ggml_cont(ggml_context * ctx, ggml_tensor * a)"),
    ggml_cpy: f("ggml_tensor * ggml_cpy(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b)"),
    ggml_reshape_1d: f("ggml_tensor * ggml_reshape_1d(ggml_context * ctx, ggml_tensor * a, int64_t ne0)"),
    ggml_reshape_2d: f("ggml_tensor * ggml_reshape_2d(ggml_context * ctx, ggml_tensor * a, int64_t ne0, int64_t ne1)"),
    ggml_reshape_3d: f(
      "ggml_tensor * ggml_reshape_3d(ggml_context * ctx, ggml_tensor * a, int64_t ne0, int64_t ne1, int64_t ne2)",
    ),
    ggml_reshape_4d: f(
      "ggml_tensor * ggml_reshape_4d(ggml_context * ctx, ggml_tensor * a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)",
    ),
    ggml_permute: f("ggml_tensor * ggml_permute(ggml_context * ctx, ggml_tensor * a, int ax0, int ax1, int ax2, int ax3)"),
    ggml_transpose: f("ggml_tensor * ggml_transpose(ggml_context * ctx, ggml_tensor * a)"),
    ggml_view_4d: f(
      "ggml_tensor * ggml_view_4d(ggml_context * ctx, ggml_tensor * a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1, size_t nb2, size_t nb3, size_t offset)",
    ),

    // graphs and autograd
    ggml_new_graph_custom: f("ggml_cgraph * ggml_new_graph_custom(ggml_context * ctx, size_t size, bool grads)"),
    ggml_build_forward_expand: f("void ggml_build_forward_expand(ggml_cgraph * g, ggml_tensor * t)"),
    ggml_build_backward_expand: f(
      "void ggml_build_backward_expand(ggml_context * ctx, ggml_cgraph * g, ggml_tensor ** grad_accs)",
    ),
    ggml_graph_get_grad: f("ggml_tensor * ggml_graph_get_grad(ggml_cgraph * g, ggml_tensor * t)"),
    ggml_graph_get_grad_acc: f("ggml_tensor * ggml_graph_get_grad_acc(ggml_cgraph * g, ggml_tensor * t)"),
    ggml_graph_n_nodes: f("int ggml_graph_n_nodes(ggml_cgraph * g)"),
    ggml_graph_get_tensor: f("ggml_tensor * ggml_graph_get_tensor(ggml_cgraph * g, const char * name)"),
    // per-node profiling (Graph.profile)
    ggml_graph_node: f("ggml_tensor * ggml_graph_node(ggml_cgraph * g, int i)"),
    ggml_graph_add_node: f("void ggml_graph_add_node(ggml_cgraph * g, ggml_tensor * t)"),
    ggml_graph_clear: f("void ggml_graph_clear(ggml_cgraph * g)"),
    ggml_op_desc: f("const char * ggml_op_desc(const ggml_tensor * t)"),
    ggml_get_data: f("void * ggml_get_data(const ggml_tensor * t)"),

    // backends and allocation
    ggml_backend_free: f("void ggml_backend_free(ggml_backend * b)"),
    ggml_backend_get_default_buffer_type: f("ggml_backend_buffer_type * ggml_backend_get_default_buffer_type(ggml_backend * b)"),
    ggml_backend_alloc_ctx_tensors: f("ggml_backend_buffer * ggml_backend_alloc_ctx_tensors(ggml_context * ctx, ggml_backend * b)"),
    ggml_backend_alloc_ctx_tensors_from_buft: f("ggml_backend_buffer * ggml_backend_alloc_ctx_tensors_from_buft(ggml_context * ctx, ggml_backend_buffer_type * buft)"),
    ggml_backend_buft_name: f("const char * ggml_backend_buft_name(ggml_backend_buffer_type * buft)"),
    ggml_backend_buft_get_alignment: f("size_t ggml_backend_buft_get_alignment(ggml_backend_buffer_type * buft)"),
    ggml_backend_buft_get_max_size: f("size_t ggml_backend_buft_get_max_size(ggml_backend_buffer_type * buft)"),
    ggml_backend_buft_is_host: f("bool ggml_backend_buft_is_host(ggml_backend_buffer_type * buft)"),
    ggml_backend_buffer_free: f("void ggml_backend_buffer_free(ggml_backend_buffer * buf)"),
    ggml_backend_buffer_get_size: f("size_t ggml_backend_buffer_get_size(ggml_backend_buffer * buf)"),
    ggml_backend_tensor_set: f("void ggml_backend_tensor_set(ggml_tensor * t, const void * data, size_t offset, size_t size)"),
    ggml_backend_tensor_memset: f("void ggml_backend_tensor_memset(ggml_tensor * t, uint8_t value, size_t offset, size_t size)"),
    ggml_backend_tensor_get: f("void ggml_backend_tensor_get(const ggml_tensor * t, _Out_ void * data, size_t offset, size_t size)"),
    ggml_backend_graph_compute: f("int ggml_backend_graph_compute(ggml_backend * b, ggml_cgraph * g)"),
    ggml_gallocr_new: f("ggml_gallocr * ggml_gallocr_new(ggml_backend_buffer_type * buft)"),
    ggml_gallocr_free: f("void ggml_gallocr_free(ggml_gallocr * g)"),
    ggml_gallocr_alloc_graph: f("bool ggml_gallocr_alloc_graph(ggml_gallocr * g, ggml_cgraph * graph)"),
    ggml_gallocr_reserve: f("bool ggml_gallocr_reserve(ggml_gallocr * g, ggml_cgraph * graph)"),
    ggml_gallocr_get_buffer_size: f("size_t ggml_gallocr_get_buffer_size(ggml_gallocr * g, int buffer_id)"),
  };
}

function bindCpu(lib: LibraryHandle) {
  return {
    ggml_backend_cpu_init: lib.func("ggml_backend * ggml_backend_cpu_init()"),
    ggml_backend_cpu_set_n_threads: lib.func("void ggml_backend_cpu_set_n_threads(ggml_backend * b, int n_threads)"),
  };
}

export type GgmlBase = ReturnType<typeof bindBase>;
export type GgmlCpu = ReturnType<typeof bindCpu>;

export interface Ggml {
  base: GgmlBase;
  cpu: GgmlCpu;
  /** Which files were loaded (for diagnostics and reports). */
  files: { base: string; cpu: string };
}

let loaded: Ggml | undefined;

/** Loads the libraries once per process. The CPU variant is the one whose own `ggml_backend_score()` is highest. */
export function loadGgml(): Ggml {
  if (loaded) return loaded;
  const files = locateGgml();
  let baseLib: LibraryHandle;
  try {
    baseLib = koffi.load(files.base);
  } catch (e) {
    const via = files.origin ? ` (${files.origin})` : "";
    throw new ReclmError("RECLM_ERR_ENGINE", `cannot load ${files.base}${via}: ${(e as Error).message}`, {}, { cause: e });
  }
  const forced = process.env.RECLM_GGML_CPU_VARIANT;
  let best: { path: string; score: number; lib: LibraryHandle } | undefined;
  for (const path of files.cpuVariants) {
    if (forced && !path.endsWith(`libggml-cpu-${forced}.so`)) continue;
    let lib: LibraryHandle;
    try {
      lib = koffi.load(path);
    } catch {
      continue;
    }
    const score = Number(lib.func("int ggml_backend_score()")());
    if (score > 0 && (!best || score > best.score)) {
      best?.lib.unload();
      best = { path, score, lib };
    } else {
      lib.unload();
    }
  }
  if (!best) {
    throw new ReclmError(
      "RECLM_ERR_ENGINE",
      `no ggml CPU variant in ${files.dir} loads and supports this CPU${files.origin ? ` (${files.origin})` : ""}${forced ? ` (RECLM_GGML_CPU_VARIANT=${forced})` : ""}`,
    );
  }
  loaded = { base: bindBase(baseLib), cpu: bindCpu(best.lib), files: { base: files.base, cpu: best.path } };
  return loaded;
}

/**
 * Byte offsets inside `struct ggml_tensor` (ggml.h of v0.4.0: type, buffer, ne[4], nb[4], op, op_params[16], flags,
 * src[10], ...). Only the graph rewrite of engine/graph.ts writes through them, after `checkTensorLayout()` has
 * verified them on live tensors.
 */
const TENSOR_OP_OFFSET = 80;
const TENSOR_SRC_OFFSET = 152;
const GGML_MAX_SRC = 10;

/** The `enum ggml_op` value of a tensor. */
export function tensorOp(p: Ptr): number {
  return koffi.decode(p as never, TENSOR_OP_OFFSET, "int") as number;
}

/** `t->src[i]`, or null. */
export function tensorSrc(p: Ptr, i: number): Ptr | null {
  if (i < 0 || i >= GGML_MAX_SRC) throw new ReclmError("RECLM_ERR_ENGINE", `tensorSrc: index ${i} out of range`);
  const v = koffi.decode(p as never, TENSOR_SRC_OFFSET + 8 * i, "ggml_tensor *") as Ptr | null;
  return v && addressOf(v) !== 0n ? v : null;
}

/**
 * Turns node `p` into `op(src0, src1)` in place (same output tensor, shape and buffer). The caller guarantees the new
 * op computes a tensor of p's exact shape and type, and re-orders the graph so the sources come first.
 */
export function setTensorOp(p: Ptr, op: number, src0: Ptr, src1: Ptr): void {
  koffi.encode(p as never, TENSOR_OP_OFFSET, "int", op);
  koffi.encode(p as never, TENSOR_SRC_OFFSET, "ggml_tensor *", src0);
  koffi.encode(p as never, TENSOR_SRC_OFFSET + 8, "ggml_tensor *", src1);
  for (let i = 2; i < GGML_MAX_SRC; i++) koffi.encode(p as never, TENSOR_SRC_OFFSET + 8 * i, "ggml_tensor *", null);
}

let mulMatOp = -1;

/**
 * Verifies the struct offsets above against the loaded library: builds `add(a, b)` and `mul_mat(a, b)` in a scratch
 * context and checks that op and src read back as ggml reports them. Throws (never guesses) on a mismatch.
 */
export function checkTensorLayout(g: Ggml): void {
  if (mulMatOp >= 0) return;
  const B = g.base;
  const ctx = B.ggml_init({ mem_size: Number(B.ggml_tensor_overhead()) * 8 + 1024, mem_buffer: null, no_alloc: true });
  try {
    const a = B.ggml_new_tensor_2d(ctx, GGML_TYPE.F32, 4, 3);
    const b = B.ggml_new_tensor_2d(ctx, GGML_TYPE.F32, 4, 3);
    const add = B.ggml_add(ctx, a, b);
    const mm = B.ggml_mul_mat(ctx, a, b);
    const ok =
      String(B.ggml_op_desc(add)) === "ADD" &&
      String(B.ggml_op_desc(mm)) === "MUL_MAT" &&
      tensorOp(add) !== tensorOp(mm) &&
      tensorOp(a) === 0 &&
      addressOf(tensorSrc(add, 0)!) === addressOf(a) &&
      addressOf(tensorSrc(add, 1)!) === addressOf(b) &&
      tensorSrc(add, 2) === null &&
      tensorSrc(a, 0) === null;
    if (!ok) throw new ReclmError("RECLM_ERR_ENGINE", "struct ggml_tensor layout differs from the one reclm was written for (is node-llama-cpp pinned to 3.21.1?)");
    mulMatOp = tensorOp(mm);
  } finally {
    B.ggml_free(ctx);
  }
}

/** `GGML_OP_MUL_MAT` of the loaded library (read from a live tensor by `checkTensorLayout`). */
export function mulMatOpCode(g: Ggml): number {
  checkTensorLayout(g);
  return mulMatOp;
}

/**
 * `struct ggml_backend_buffer_type` (ggml-backend-impl.h): the interface's six function pointers (get_name,
 * alloc_buffer, get_alignment, get_max_size, get_alloc_size, is_host), then device and context.
 */
const BUFT_WORDS = 8;
const BUFT_GET_ALIGNMENT = 2;
const GetAlignment = koffi.proto("size_t ggml_buft_get_alignment_t(void * buft)");
/** The wrappers made so far, by wrapped type and alignment: they and their callbacks live as long as the process. */
const alignedTypes = new Map<string, Ptr>();

/**
 * A buffer type that is `buft` in every way but the alignment of the tensors placed in its buffers: `alignment` bytes
 * instead of the CPU type's 32 (TENSOR_ALIGNMENT, what a GGUF mapping guarantees). A tensor's data at 32 mod 64 makes
 * every AVX-512 load of a row straddle two cache lines: measured on the SmolLM2-135M-shape LoRA step
 * (bench/engine/llm-step-profile.ts), products with all operands 64-aligned ran at 33.9 GMAC/s against 30.8-31.2 when
 * the activations sat at 32 mod 64, which happened or not with the sizes of the graph's small inputs. The buffers'
 * memory itself comes from the wrapped type's alloc_buffer (ggml_aligned_malloc, 64-aligned). A copy of the struct
 * with get_alignment pointing to a registered callback; called only where ggml plans memory (gallocr, allocating a
 * context's tensors), on the JS thread. Checked through ggml's own accessors before use.
 */
export function alignedBufferType(g: Ggml, buft: Ptr, alignment = 64): Ptr {
  const key = `${addressOf(buft)}:${alignment}`;
  const known = alignedTypes.get(key);
  if (known) return known;
  const B = g.base;
  const words = koffi.decode(buft as never, koffi.array("uint64_t", BUFT_WORDS)) as bigint[];
  const callback = koffi.register(() => alignment, koffi.pointer(GetAlignment));
  words[BUFT_GET_ALIGNMENT] = koffi.address(callback) as bigint;
  const copy = koffi.alloc("uint64_t", BUFT_WORDS);
  koffi.encode(copy, koffi.array("uint64_t", BUFT_WORDS), words);
  const wrapped = koffi.as(copy, "ggml_backend_buffer_type *") as Ptr;
  const same = B.ggml_backend_buft_name(wrapped) === B.ggml_backend_buft_name(buft) && B.ggml_backend_buft_is_host(wrapped) === B.ggml_backend_buft_is_host(buft) && B.ggml_backend_buft_get_max_size(wrapped) === B.ggml_backend_buft_get_max_size(buft);
  if (!same || Number(B.ggml_backend_buft_get_alignment(wrapped)) !== alignment) {
    throw new ReclmError("RECLM_ERR_ENGINE", "struct ggml_backend_buffer_type layout differs from the one reclm was written for (is node-llama-cpp pinned to 3.21.1?)");
  }
  alignedTypes.set(key, wrapped);
  return wrapped;
}

/** Numeric address of a native pointer, for identity comparisons. */
export function addressOf(p: Ptr): bigint {
  return koffi.address(p as never) as bigint;
}

/** ne / nb of a native tensor, read straight from its struct. */
export function tensorLayout(p: Ptr): { type: number; ne: number[]; nb: number[] } {
  const h = koffi.decode(p as never, TensorHead) as { type: number; ne: ArrayLike<number | bigint>; nb: ArrayLike<number | bigint> };
  return { type: h.type, ne: Array.from(h.ne, Number), nb: Array.from(h.nb, Number) };
}

/** Whether `t->buffer` is set: a no_alloc tensor gets memory only from an allocator placing a graph it is in. */
export function tensorHasBuffer(p: Ptr): boolean {
  const h = koffi.decode(p as never, TensorHead) as { buffer: Ptr | null };
  return h.buffer !== null && addressOf(h.buffer) !== 0n;
}

export function isContiguousNative(p: Ptr): boolean {
  const { ne, nb } = tensorLayout(p);
  let expect = 4;
  for (let i = 0; i < 4; i++) {
    if (ne[i] !== 1 && nb[i] !== expect) return false;
    expect *= ne[i];
  }
  return true;
}

/** `ggml_to_float_t` (ggml.h): dequantizes k values of a row. */
const ToFloat = koffi.proto("void ggml_to_float_t(const uint8_t * x, _Out_ float * y, int64_t k)");
/** `struct ggml_type_traits` (ggml.h): type_name, blck_size, blck_size_interleave, type_size, is_quantized, to_float. */
const TypeTraits = koffi.struct("ggml_type_traits", {
  type_name: "const char *",
  blck_size: "int64_t",
  blck_size_interleave: "int64_t",
  type_size: "size_t",
  is_quantized: "bool",
  to_float: "void *",
  from_float_ref: "void *",
});

/**
 * Type ids every ggml of this generation has in its traits table (0..TQ2_0 = 35; newer ids would read past the end of
 * the table of the pinned library, which ggml does not bounds-check).
 */
const KNOWN_TYPE_IDS = 36;

/** Throws unless `type` is a ggml type id the pinned library's tables hold. */
export function checkGgmlType(type: number): void {
  if (!(Number.isInteger(type) && type >= 0 && type < KNOWN_TYPE_IDS)) {
    throw new ReclmError("RECLM_ERR_SHAPE", `ggml type ${type} is not one the pinned ggml library knows (ids 0..${KNOWN_TYPE_IDS - 1})`);
  }
}

/** Bytes of n values of a ggml type laid out in rows of `perRow` (`ggml_row_size`); throws for a type it cannot hold. */
export function ggmlBytes(g: Ggml, type: number, n: number, perRow = n): number {
  const B = g.base;
  checkGgmlType(type);
  const block = Number(B.ggml_blck_size(type));
  if (!(block > 0) || perRow % block !== 0 || n % perRow !== 0) {
    throw new ReclmError("RECLM_ERR_SHAPE", `ggml type ${type} (${String(B.ggml_type_name(type))}) stores rows in blocks of ${block}; rows of ${perRow} do not fit`);
  }
  return Number(B.ggml_row_size(type, perRow)) * (n / perRow);
}

/**
 * Values of n elements stored as ggml type `type` (any type ggml can convert to float: F16, BF16, Q4_0, Q8_0, the
 * K-quants...), through ggml's own converter (`ggml_get_type_traits(type)->to_float`), so reclm reads every type
 * llama.cpp does. The traits struct layout is checked against ggml's own accessors first.
 */
export function ggmlToFloat(g: Ggml, type: number, bytes: Uint8Array, n: number, perRow = n): Float32Array {
  const B = g.base;
  const want = ggmlBytes(g, type, n, perRow);
  if (bytes.length < want) throw new ReclmError("RECLM_ERR_SHAPE", `${n} values of ${String(B.ggml_type_name(type))} need ${want} bytes, got ${bytes.length}`);
  const traits = koffi.decode(B.ggml_get_type_traits(type) as never, TypeTraits) as { blck_size: number | bigint; type_size: number | bigint; to_float: Ptr | null };
  if (Number(traits.blck_size) !== Number(B.ggml_blck_size(type)) || Number(traits.type_size) !== Number(B.ggml_type_size(type))) {
    throw new ReclmError("RECLM_ERR_ENGINE", "struct ggml_type_traits differs from the one reclm was written for (is node-llama-cpp pinned to 3.21.1?)");
  }
  if (!traits.to_float) throw new ReclmError("RECLM_ERR_ENGINE", `ggml has no converter from ${String(B.ggml_type_name(type))} to float`);
  const out = new Float32Array(n);
  const rowBytes = want / (n / perRow);
  for (let r = 0; r < n / perRow; r++) {
    koffi.call(traits.to_float as never, ToFloat, bytes.subarray(r * rowBytes, (r + 1) * rowBytes), out.subarray(r * perRow, (r + 1) * perRow), perRow);
  }
  return out;
}

/**
 * n values quantized to ggml type `type` (a quantized type, F16 or BF16) in rows of `perRow` (`ggml_quantize_chunk`,
 * no importance matrix). The type id and row layout are checked before ggml reads its tables.
 */
export function ggmlQuantize(g: Ggml, type: number, values: Float32Array, perRow = values.length): Uint8Array {
  const B = g.base;
  const bytes = ggmlBytes(g, type, values.length, perRow);
  if (!(B.ggml_is_quantized(type) || type === GGML_TYPE.F16 || type === GGML_TYPE.BF16)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cannot quantize to ggml type ${type} (${String(B.ggml_type_name(type))})`, { field: "type" });
  }
  if (B.ggml_quantize_requires_imatrix(type)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${String(B.ggml_type_name(type))} needs an importance matrix`);
  const out = new Uint8Array(bytes);
  const written = Number(B.ggml_quantize_chunk(type, values, out, 0, values.length / perRow, perRow, null));
  if (written !== out.length) throw new ReclmError("RECLM_ERR_ENGINE", `ggml_quantize_chunk wrote ${written} bytes, expected ${out.length}`);
  return out;
}
