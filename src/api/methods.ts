/**
 * The LLM methods, composed from the layers below; each implements `Recommender` or `Ranker`. LlamaRec (arXiv
 * 2311.02089): a retriever's top-20 re-ordered by an LLM that reads the history and the candidates' titles and answers
 * with one letter per candidate (the verbalizer: one forward pass ranks all 20); its fine-tuning recipe, evaluation
 * (LlamaRec's subset + overall), the examples in TRL/Axolotl layouts, and retrieve-then-rank as one `Recommender`.
 *
 * ```ts
 * import { loadDataset, openLlamaRec } from "reclm";
 * const ds = await loadDataset("embedded");
 * await using llamarec = await openLlamaRec("runs/ranker", ds, { threads: 2 });   // retriever + fine-tuned ranker
 * console.log(await llamarec.recommend(ds.train[0], { k: 10 }));
 * ```
 * @module methods
 */
export { finetuneLlamaRec, readLlamaRecRun, rankerSpecsOf, resolveFinetuneConfig, ADAPTER_FILE, RANKER_CONFIG } from "../methods/llamarec/run.ts";
export type { FinetuneLlamaRecOptions, LlamaRecFinetuneReport, LlamaRecRunConfig } from "../methods/llamarec/run.ts";
export { finetuneLlamaRecInChild } from "../methods/llamarec/finetune-job.ts";
export type { FinetuneJobInput } from "../methods/llamarec/finetune-job.ts";
export { LLAMAREC_RECIPE, llamarecRecipeFor } from "../methods/llamarec/finetune.ts";
export type { LlamaRecFinetuneConfig } from "../methods/llamarec/finetune.ts";
export { evaluateLlamaRec } from "../methods/llamarec/evaluate.ts";
export type { EvaluateLlamaRecOptions, FusedEvaluation, LlamaRecEvaluation, RankerSpec } from "../methods/llamarec/evaluate.ts";
export { embeddedRankerSpecs } from "../methods/llamarec/embedded.ts";
export { openLlamaRec, openLlamaRecRanker } from "../methods/llamarec/open.ts";
export type { OpenRankerOptions } from "../methods/llamarec/open.ts";
export { RetrieveThenRank } from "../methods/llamarec/retrieve-then-rank.ts";
export type { RetrieveThenRankOptions, StageTimings } from "../methods/llamarec/retrieve-then-rank.ts";
export { VerbalizerRanker } from "../methods/llamarec/verbalizer.ts";
export type { VerbalizerRankerOptions } from "../methods/llamarec/verbalizer.ts";
export { LlamaRecPrompter } from "../methods/llamarec/prompter.ts";
export type { LlamaRecPrompterOptions } from "../methods/llamarec/prompter.ts";
export { indexLetter, LLAMAREC_CANDIDATES, LLAMAREC_MAX_HISTORY, LLAMAREC_PROMPT, llamarecPromptText } from "../methods/llamarec/prompt.ts";
export type { LlamaRecPromptInput, LlamaRecPromptOptions } from "../methods/llamarec/prompt.ts";
export { RankingExamples } from "../methods/llamarec/examples.ts";
export type { RankingExample, RankingExamplesOptions } from "../methods/llamarec/examples.ts";
export { exportLlamaRecExamples } from "../methods/llamarec/export.ts";
export type { ExportedRows, ExportFormat, ExportOptions } from "../methods/llamarec/export.ts";
