/**
 * reclm's tensor engine over ggml. See README.md for conventions (PyTorch dim order), ops, checkpoints.
 *
 *   const engine = Engine.create({ threads: 2 });
 *   const store = new ParamStore(engine);
 *   const emb = store.add("item_emb", [V, D]);
 *   store.initialize(new Rng(seed));
 *   const opt = new AdamW(store, { lr: 1e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
 *   const train = compile(engine, { mode: "train", params: store, optimizer: opt, rng, build: (b) => { ... return { loss } } });
 *   const { loss } = train.run({ ids, targets });
 */
export { Engine, type EngineOptions } from "./engine.ts";
export { Tensor, type DType, type InputDType, type PackedType, type Shape } from "./tensor.ts";
export { Param, ParamStore, fillInit, type Init, type ParamOptions } from "./params.ts";
export { Builder, type GraphMode, type SoftmaxOptions, type CrossEntropyOptions, type RopeOptions } from "./builder.ts";
export { ComputeAllocator } from "./compute-allocator.ts";
export { Graph, compile, type CompileOptions, type BuildResult, type NodeProfile, type RunOptions, type RunResult } from "./graph.ts";
export { AdamW, GradAccumulator, lrAt, type AdamWOptions, type LrSchedule } from "./optim.ts";
export { runInChild, type ChildJob, type ChildJobContext, type RunInChildOptions } from "./child.ts";
export { saveCheckpoint, loadCheckpoint, type CheckpointState, type CheckpointMeta } from "./checkpoint.ts";
export { dequantize, quantize, ggmlTypeBytes, ggmlTypeName, packedTypeOf, PACKED_TYPE_ID, GGML_TYPE } from "./quant.ts";
export { NativeResource } from "./native-resource.ts";
