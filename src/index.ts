/**
 * reclm as a library: `import { ... } from "reclm"`. The public API, by what a user is doing; each group is one
 * module of its own (one page of the API reference, docs/api/). Nothing under src/cli is part of it.
 */
export * from "./api/datasets.ts";
export * from "./api/evaluation.ts";
export * from "./api/models.ts";
export * from "./api/llm.ts";
export * from "./api/methods.ts";
export * from "./api/engine.ts";
export * from "./api/errors.ts";
export * from "./api/contracts.ts";
