/**
 * LlamaRec's evaluation (anchors.md §1.3): the retriever's top-20 on the test split (history masked); the users whose
 * answer is among them form the subset the ranker re-orders; the overall figure combines the ranker on the subset with
 * the retriever on everyone else. The ranker runs on llama.cpp (the base GGUF, plus the fine-tuned adapter), and the
 * retriever alone on the same users sits in the same table, so the ranker's gain is the difference of two rows.
 */
import type { LongWorkOptions, SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { retrieveTopK, type Retrieval } from "../../eval/full-ranking.ts";
import { inputHistory } from "../../eval/history.ts";
import { checkFusionWeight, fuseRetrievalScores, selectFusionWeight, type FusionWeightSelection } from "../../eval/fusion.ts";
import { llamarecSubsetOverall, type LlamaRecSubsetOverall } from "../../eval/llamarec.ts";
import { loadLlamaCppModel } from "../../llm/runtime.ts";
import { resolveModel } from "../../models/resolve.ts";
import { LLAMAREC_CANDIDATES } from "./prompt.ts";
import { verbalizerForSpec, type RankerSpec, type VerbalizerRanker } from "./verbalizer.ts";

export type { RankerSpec } from "./verbalizer.ts";

export interface EvaluateLlamaRecOptions extends LongWorkOptions {
  ds: SequenceDataset;
  /** The retriever (run dir or baseline name). */
  retriever: string;
  rankers: readonly RankerSpec[];
  split?: "val" | "test";
  ks?: number[];
  /** Batch size of the papers' "mean of batch means" figures (LlamaRec: 16 on ML-100k). */
  batchSize?: number;
  threads?: number;
  /** Prompts llama.cpp evaluates side by side. */
  parallel?: number;
  /**
   * Also score each ranker fused with the retriever (src/eval/fusion.ts; not LlamaRec as published): a weight in
   * [0, 1], or "validation" to choose it on the validation split's subset users (each ranker scores those too) and apply
   * it to `split`.
   */
  fusion?: number | "validation";
}

/** One ranker fused with the retriever: the weight used, how it was chosen, and the same figures as `results`. */
export interface FusedEvaluation {
  weight: number;
  /** The validation curve the weight was chosen on (fusion "validation"). */
  selection?: FusionWeightSelection;
  result: LlamaRecSubsetOverall;
}

export interface LlamaRecEvaluation {
  retrieval: Retrieval;
  results: LlamaRecSubsetOverall[];
  /** Seconds the ranker took per subset user (mean), per ranker. */
  secondsPerUser: number[];
  /** Per ranker, per retrieval position: its scores of the subset users' candidates (undefined for the others). */
  scores: (Float32Array | undefined)[][];
  /** Per ranker, when `fusion` was asked for. */
  fused?: FusedEvaluation[];
}

/** Scores of every subset user's candidates by one ranker, batched over llama.cpp's parallel sequences. */
async function rankSubset(ranker: VerbalizerRanker, ds: SequenceDataset, retrieval: Retrieval, o: LongWorkOptions & { chunk: number; stage: string }): Promise<(Float32Array | undefined)[]> {
  const out: (Float32Array | undefined)[] = new Array(retrieval.users.length).fill(undefined);
  const subset: number[] = [];
  retrieval.hits.forEach((h, i) => h && subset.push(i));
  for (let s = 0; s < subset.length; s += o.chunk) {
    o.signal?.throwIfAborted();
    const part = subset.slice(s, s + o.chunk);
    const scores = await ranker.rankMany(part.map((i) => ({ history: inputHistory(ds, retrieval.users[i], retrieval.split), candidates: retrieval.candidates[i] })));
    part.forEach((i, j) => (out[i] = scores[j]));
    o.onProgress?.({ stage: o.stage, done: Math.min(subset.length, s + o.chunk), total: subset.length, unit: "users" });
  }
  return out;
}

export async function evaluateLlamaRec(o: EvaluateLlamaRecOptions): Promise<LlamaRecEvaluation> {
  if (o.rankers.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "no ranker to evaluate", { field: "rankers" });
  const split = o.split ?? "test";
  if (typeof o.fusion === "number") checkFusionWeight(o.fusion, "fusion");
  else if (o.fusion === "validation" && split === "val") throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a fusion weight chosen on the validation split cannot be evaluated on it too: evaluate the test split, or give the weight", { field: "fusion" });
  else if (o.fusion !== undefined && o.fusion !== "validation") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `fusion must be a weight in [0, 1] or "validation", got ${String(o.fusion)}`, { field: "fusion" });
  const retriever = await resolveModel(o.retriever, o.ds, { split });
  let retrieval: Retrieval;
  // The weight is chosen on the validation split's subset and applied unchanged to `split`'s users.
  let valRetrieval: Retrieval | undefined;
  try {
    retrieval = await retrieveTopK(retriever, o.ds, split, LLAMAREC_CANDIDATES, { maskHistory: true, onProgress: o.onProgress, signal: o.signal });
  } finally {
    await retriever.dispose?.();
  }
  if (o.fusion === "validation") {
    // Resolved for the validation split: a training-free baseline then learns only from what that split may see.
    const valRetriever = await resolveModel(o.retriever, o.ds, { split: "val" });
    try {
      valRetrieval = await retrieveTopK(valRetriever, o.ds, "val", LLAMAREC_CANDIDATES, { maskHistory: true, onProgress: o.onProgress, signal: o.signal });
    } finally {
      await valRetriever.dispose?.();
    }
  }
  const fused: FusedEvaluation[] = [];
  const results: LlamaRecSubsetOverall[] = [];
  const secondsPerUser: number[] = [];
  const allScores: (Float32Array | undefined)[][] = [];
  const parallel = o.parallel ?? 4;
  for (const spec of o.rankers) {
    const model = await loadLlamaCppModel(spec.llm, { threads: o.threads });
    try {
      const ranker = await verbalizerForSpec(model, o.ds.catalog, spec, { parallel });
      try {
        const t0 = performance.now();
        const scores = await rankSubset(ranker, o.ds, retrieval, { chunk: parallel * 4, stage: `rank (${spec.name})`, onProgress: o.onProgress, signal: o.signal });
        const n = retrieval.hits.reduce((a, h) => a + h, 0);
        secondsPerUser.push((performance.now() - t0) / 1000 / Math.max(1, n));
        allScores.push(scores);
        const ks = o.ks ?? [1, 5, 10];
        results.push(llamarecSubsetOverall(retrieval, scores, spec.name, { ks, batchSize: o.batchSize ?? 16 }));
        if (o.fusion !== undefined) {
          let selection: FusionWeightSelection | undefined;
          if (valRetrieval) {
            const valScores = await rankSubset(ranker, o.ds, valRetrieval, { chunk: parallel * 4, stage: `rank validation (${spec.name})`, onProgress: o.onProgress, signal: o.signal });
            selection = selectFusionWeight(valRetrieval, valScores);
          }
          const weight = selection?.weight ?? (o.fusion as number);
          const result = llamarecSubsetOverall(retrieval, fuseRetrievalScores(retrieval, scores, weight), `${spec.name}+fusion`, { ks, batchSize: o.batchSize ?? 16 });
          fused.push({ weight, ...(selection ? { selection } : {}), result });
        }
      } finally {
        await ranker.dispose();
      }
    } finally {
      await model.dispose();
    }
  }
  return { retrieval, results, secondsPerUser, scores: allScores, ...(o.fusion !== undefined ? { fused } : {}) };
}
