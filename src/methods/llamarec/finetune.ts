/**
 * LlamaRec's ranker fine-tuning (anchors.md §1.1-§1.2; the authors' train_ranker.py and trainer/llm.py):
 *
 * - Examples: every prefix (length >= 2) of each user's training sequence; its last item is the answer, up to 20
 *   items before it the history; the candidates are the answer and 19 distinct items drawn uniformly outside the
 *   prefix, shuffled (examples.ts). The prompt is the short Alpaca layout with the answer letter and EOS appended, and
 *   the loss is on those two tokens only (prompter.ts).
 * - Model: the base LLM frozen, LoRA r 8 / alpha 32 / dropout 0.05 on q and v.
 * - Optimisation: lr 1e-4, 100 warmup steps then linear decay over the epoch (Hugging Face Trainer's default schedule,
 *   which the authors' TrainingArguments keep), batch 16 on ML-100k (12 on Beauty/Games), 1 epoch, gradient clip 1.
 * - Selection: every 100 steps the ranker re-orders the retriever's top-20 for the validation users whose answer is
 *   among them (the validation subset), scored by NDCG@10; the best adapter is kept (patience 20).
 *
 * The trainer is the LLM layer's (src/llm/train); this file only says what LlamaRec trains and how it is validated.
 * Where a run uses fewer examples or steps than the paper (a CPU budget), the config records it (`maxExamples`).
 */
import type { LongWorkOptions, SequenceDataset, SequentialRecommender } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { Rng } from "../../rng.ts";
import { candidateRanking } from "../../eval/candidates.ts";
import { retrieveTopK, type Retrieval } from "../../eval/full-ranking.ts";
import { inputHistory } from "../../eval/history.ts";
import type { Metrics } from "../../eval/metrics.ts";
import { LLM_TRAIN_DEFAULTS, type LlmTrainConfig } from "../../llm/train/trainer.ts";
import type { LmExampleSource } from "../../llm/train/batches.ts";
import type { DecoderGraphs } from "../../llm/train/decoder-graphs.ts";
import type { LoraTarget } from "../../llm/llama.ts";
import { RankingExamples } from "./examples.ts";
import type { LlamaRecPrompter } from "./prompter.ts";
import { LLAMAREC_CANDIDATES } from "./prompt.ts";
import { scanRetrievedExamples, type TrainCandidates } from "./retrieved-examples.ts";

export interface LlamaRecFinetuneConfig extends LlmTrainConfig {
  loraRank: number;
  loraAlpha: number;
  loraDropout: number;
  loraTargets: LoraTarget[];
  /** Training examples used: a seeded sample of all prefixes; 0 = all of them (the paper). */
  maxExamples: number;
  /** Validation-subset users scored at each validation: a seeded sample; 0 = all of them (the paper). */
  maxValUsers: number;
  /** Ranking cut-offs reported at validation. */
  ks: number[];
  /** The selection metric (the paper: NDCG@10). */
  selectMetric: string;
  /**
   * The training examples' candidates: "uniform" (the paper: the answer and 19 uniform negatives, shuffled), or the
   * retriever's top-20 for each training prefix whose answer is among them, in its order ("retriever") or shuffled
   * ("retriever-shuffled"); see retrieved-examples.ts. Older run dirs: uniform.
   */
  trainCandidates?: TrainCandidates;
}

/** The paper's recipe (§1.2), before per-dataset batch sizes. */
export const LLAMAREC_RECIPE: Readonly<LlamaRecFinetuneConfig> = Object.freeze({
  // Hugging Face Trainer's defaults where the authors' TrainingArguments keep them (betas, eps, clip 1, no decay).
  ...LLM_TRAIN_DEFAULTS,
  lr: 1e-4,
  schedule: "linear",
  warmupSteps: 100,
  weightDecay: 0,
  clipNorm: 1,
  batchSize: 16,
  epochs: 1,
  validateEvery: 100,
  patience: 20,
  loraRank: 8,
  loraAlpha: 32,
  loraDropout: 0.05,
  loraTargets: ["q", "v"] as LoraTarget[],
  maxExamples: 0,
  maxValUsers: 0,
  ks: [1, 5, 10],
  selectMetric: "NDCG@10",
  trainCandidates: "uniform",
});

/** The authors' per-dataset micro-batch (lora_micro_batch_size): 16 on ML-100k, 12 on Beauty and Games. */
export function llamarecRecipeFor(dataset: string): LlamaRecFinetuneConfig {
  const small = dataset === "ml-latest-small" || dataset === "ml-100k";
  return { ...LLAMAREC_RECIPE, loraTargets: [...LLAMAREC_RECIPE.loraTargets], ks: [...LLAMAREC_RECIPE.ks], batchSize: small ? 16 : 12, microBatch: 4 };
}

/** A seeded sample of `n` of `total` indices (all of them, in order, when n is 0 or >= total). */
export function sampleIndices(total: number, n: number, seed: number): Int32Array {
  const all = Int32Array.from({ length: total }, (_, i) => i);
  if (n <= 0 || n >= total) return all;
  new Rng(seed).shuffle(all);
  return all.subarray(0, n).sort();
}

/** The fine-tuning examples as token sequences, of `total` training prefixes; with the retriever's candidates, how they were found. */
export interface LlamaRecTrainingSet {
  source: LmExampleSource;
  total: number;
  /** trainCandidates other than "uniform": prefixes retrieved, those with the answer in the top-20, those with it first. */
  scanned?: number;
  hits?: number;
  answerFirst?: number;
}

/** The fine-tuning examples as token sequences (built on demand: ~90k prompts on ml-latest-small). */
export function llamarecTrainingSet(ds: SequenceDataset, prompter: LlamaRecPrompter, config: Pick<LlamaRecFinetuneConfig, "seed" | "maxExamples">): LlamaRecTrainingSet {
  const all = new RankingExamples(ds, { seed: config.seed, maxHistory: prompter.maxHistory, candidates: LLAMAREC_CANDIDATES });
  const chosen = sampleIndices(all.length, config.maxExamples, config.seed ^ 0x5eed);
  return { source: { length: chosen.length, example: (i) => prompter.trainingExample(all.example(chosen[i])) }, total: all.length };
}

/**
 * The fine-tuning examples with the retriever's candidates (config.trainCandidates "retriever" or
 * "retriever-shuffled"): retrieved up front, since the retriever is asynchronous and the trainer reads examples by
 * index. `scanned` of the `total` prefixes were retrieved to find them.
 */
export async function llamarecRetrievedTrainingSet(
  ds: SequenceDataset,
  retriever: SequentialRecommender,
  prompter: LlamaRecPrompter,
  config: Pick<LlamaRecFinetuneConfig, "seed" | "maxExamples"> & { trainCandidates: Exclude<TrainCandidates, "uniform"> },
  options: LongWorkOptions = {},
): Promise<LlamaRecTrainingSet> {
  const r = await scanRetrievedExamples(ds, retriever, { seed: config.seed, candidates: config.trainCandidates, maxExamples: config.maxExamples, maxHistory: prompter.maxHistory, ...options });
  return { source: { length: r.examples.length, example: (i) => prompter.trainingExample(r.examples[i]) }, total: r.total, scanned: r.scanned, hits: r.hits, answerFirst: r.answerFirst };
}

/** The users LlamaRec validates (or tests) on: those whose answer is in the retriever's top-20. */
export interface RankingSubset {
  retrieval: Retrieval;
  /** Positions into retrieval.users of the users scored. */
  positions: Int32Array;
  prompts: number[][];
}

/** The retriever's top-20 on `split` and the prompts of the subset users (a seeded sample of at most `maxUsers`). */
export async function rankingSubset(
  ds: SequenceDataset,
  retriever: SequentialRecommender,
  prompter: LlamaRecPrompter,
  split: "val" | "test",
  options: { maxUsers?: number; seed?: number } = {},
): Promise<RankingSubset> {
  const retrieval = await retrieveTopK(retriever, ds, split, LLAMAREC_CANDIDATES, { maskHistory: true });
  const hits: number[] = [];
  retrieval.hits.forEach((h, i) => h && hits.push(i));
  if (hits.length === 0) {
    throw new ReclmError("RECLM_ERR_BAD_DATASET", `no ${split} user has the answer in ${retrieval.model}'s top-${LLAMAREC_CANDIDATES}: nothing for the ranker to re-order`, { field: "retriever" });
  }
  const pick = sampleIndices(hits.length, options.maxUsers ?? 0, options.seed ?? 0);
  const positions = Int32Array.from(pick, (j) => hits[j]);
  const prompts = Array.from(positions, (i) => prompter.promptTokens(inputHistory(ds, retrieval.users[i], split), retrieval.candidates[i]));
  return { retrieval, positions, prompts };
}

/**
 * The verbalizer on reclm's decoder under the current parameters: each subset user's 20 candidates scored by their
 * letters' logits at the prompt's last position, ranked, R/N/M@k over the subset.
 */
export function scoreSubsetOnDecoder(graphs: DecoderGraphs, subset: RankingSubset, prompter: LlamaRecPrompter, ks: readonly number[], batch: number): Metrics {
  const letters = prompter.letters.slice(0, LLAMAREC_CANDIDATES);
  const logits = graphs.nextTokenLogits(subset.prompts, letters, { batch, lengthBucket: 32 });
  return rankSubset(subset, (j, i) => logits[j].subarray(0, subset.retrieval.candidates[i].length), ks);
}

/** The retriever's own order on the same subset users: what the ranker has to beat. */
export function scoreSubsetByRetriever(subset: RankingSubset, ks: readonly number[]): Metrics {
  return rankSubset(subset, (_, i) => subset.retrieval.scores[i], ks);
}

/** R/N/M@k over the subset users, candidate scores of the j-th subset user (retrieval position i) from `scoresOf`. */
function rankSubset(subset: RankingSubset, scoresOf: (j: number, i: number) => Float32Array, ks: readonly number[]): Metrics {
  const { retrieval, positions } = subset;
  return candidateRanking({
    candidates: Array.from(positions, (i) => retrieval.candidates[i]),
    scores: Array.from(positions, (i, j) => scoresOf(j, i)),
    positives: Int32Array.from(positions, (i) => retrieval.positives[i]),
    ks,
  }).metrics;
}
