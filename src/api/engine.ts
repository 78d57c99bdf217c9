/**
 * The engine: reclm's tensor layer over ggml (the library llama.cpp runs on), what the retrievers and the LLM trainer
 * are written in. A typed `Builder` checks every shape in TypeScript before ggml sees it; a graph is compiled once per
 * batch shape and run many times; AdamW, clipping and dropout run inside it. Native memory is freed by `dispose()` or
 * at the end of a `using` scope, never by the garbage collector. Shapes are PyTorch order (src/engine/README.md).
 *
 * ```ts
 * import { Engine, ParamStore, AdamW, compile, Rng } from "reclm";
 * using engine = Engine.create({ threads: 1 });
 * using store = new ParamStore(engine);
 * const w = store.add("w", [4, 8]);
 * store.initialize(new Rng(42));
 * using opt = new AdamW(store, { lr: 1e-3 });
 * using step = compile(engine, { mode: "train", params: store, optimizer: opt,
 *   build: (b) => ({ loss: b.mean(b.sqr(b.matmulNT(b.input("x", [2, 8]), w))) }) });
 * const { loss } = step.run({ x: new Float32Array(16).fill(1) });
 * ```
 * @module engine
 */
export {
  AdamW,
  Builder,
  ComputeAllocator,
  compile,
  dequantize,
  Engine,
  fillInit,
  GGML_TYPE,
  ggmlTypeBytes,
  ggmlTypeName,
  GradAccumulator,
  Graph,
  loadCheckpoint,
  lrAt,
  PACKED_TYPE_ID,
  packedTypeOf,
  Param,
  ParamStore,
  quantize,
  runInChild,
  saveCheckpoint,
  Tensor,
} from "../engine/index.ts";
export type {
  AdamWOptions,
  BuildResult,
  CheckpointMeta,
  CheckpointState,
  ChildJob,
  ChildJobContext,
  CompileOptions,
  CrossEntropyOptions,
  DType,
  EngineOptions,
  GraphMode,
  Init,
  InputDType,
  LrSchedule,
  NodeProfile,
  PackedType,
  ParamOptions,
  RopeOptions,
  RunInChildOptions,
  RunOptions,
  RunResult,
  Shape,
  SoftmaxOptions,
} from "../engine/index.ts";
export { NativeResource } from "../engine/index.ts";
export { Rng } from "../rng.ts";
export { sha256File, writeFileAtomic, writeJsonAtomic } from "../io.ts";
