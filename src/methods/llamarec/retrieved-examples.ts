/**
 * Training examples whose candidates are the retriever's own top-20 for each training prefix (fine-tuning field
 * `trainCandidates`: "retriever" keeps the retriever's order, "retriever-shuffled" shuffles it). A deviation from
 * the paper, which draws 19 uniform negatives (examples.ts) and is the default.
 *
 * Why it is offered: at test the ranker re-orders 20 items the retriever already found plausible, in the retriever's
 * order (anchors.md §1.1), whereas uniform negatives teach it to tell a plausible title from a random one. A 7B LLM
 * brings enough knowledge of the items to bridge that gap; a small LM trained on the dataset alone does not (README,
 * LlamaRec results). Training on the retriever's candidates shows the ranker the test's distribution: only prefixes
 * whose answer is among them are kept (the test scores only such users), and with the retriever's order the letters
 * carry its ranking, so the ranker can learn where to trust it.
 *
 * The retriever was trained on these very prefixes, so its top-20 there is better than at test (more answers found,
 * ranked higher); `scanRetrievedExamples` reports how many prefixes it retrieved and how often the answer came first,
 * so a run can say how far the two differ.
 */
import type { LongWorkOptions, SequenceDataset, SequentialRecommender } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { Rng } from "../../rng.ts";
import { candidateRng } from "../../eval/candidates.ts";
import { retrieveTopK } from "../../eval/full-ranking.ts";
import { trainingPrefixes, type RankingExample } from "./examples.ts";
import { LLAMAREC_CANDIDATES, LLAMAREC_MAX_HISTORY } from "./prompt.ts";

export type TrainCandidates = "uniform" | "retriever" | "retriever-shuffled";
export const TRAIN_CANDIDATES: readonly TrainCandidates[] = ["uniform", "retriever", "retriever-shuffled"];

export interface RetrievedExamplesOptions extends LongWorkOptions {
  seed: number;
  /** "retriever": the candidates in the retriever's order; "retriever-shuffled": shuffled. */
  candidates: Exclude<TrainCandidates, "uniform">;
  /** Stop once this many examples are found (0 = scan every prefix). */
  maxExamples: number;
  maxHistory?: number;
  /** Prefixes retrieved per call to the retriever. */
  chunk?: number;
}

export interface RetrievedExamples {
  examples: RankingExample[];
  /** Training prefixes retrieved for (a seeded order of all of them, until maxExamples were found). */
  scanned: number;
  /** All training prefixes. */
  total: number;
  /** Of the scanned prefixes: those with the answer in the top-20, and those with it first (before any shuffle). */
  hits: number;
  answerFirst: number;
}

/**
 * Retrieves the top-20 of training prefixes in a seeded order (history masked as at test) and keeps those whose
 * answer is among them, until `maxExamples` are found; the examples come back in prefix order, so a run that
 * resumes rebuilds the same list.
 */
export async function scanRetrievedExamples(ds: SequenceDataset, retriever: SequentialRecommender, o: RetrievedExamplesOptions): Promise<RetrievedExamples> {
  if (!Number.isInteger(o.seed)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `seed must be an integer, got ${o.seed}`, { field: "seed" });
  if (!(Number.isInteger(o.maxExamples) && o.maxExamples >= 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxExamples must be a non-negative integer, got ${o.maxExamples}`, { field: "maxExamples" });
  const maxHistory = o.maxHistory ?? LLAMAREC_MAX_HISTORY;
  const { users, ends } = trainingPrefixes(ds);
  const order = Int32Array.from({ length: users.length }, (_, i) => i);
  new Rng(o.seed ^ 0x5eed).shuffle(order);
  const chunk = o.chunk ?? 1024;
  const found: { prefix: number; example: RankingExample }[] = [];
  let scanned = 0;
  let hits = 0;
  let answerFirst = 0;
  while (scanned < order.length && (o.maxExamples === 0 || found.length < o.maxExamples)) {
    const picks = order.subarray(scanned, Math.min(order.length, scanned + chunk));
    // Each prefix as a pseudo-user whose validation item is the prefix's last: retrieval masks and ranks exactly as
    // it does for the validation and test users.
    const view: SequenceDataset = {
      name: ds.name,
      protocol: ds.protocol,
      catalog: ds.catalog,
      users: Array.from(picks, (p) => `${ds.users[users[p]]} (training prefix of ${ends[p]})`),
      train: Array.from(picks, (p) => ds.train[users[p]].subarray(0, ends[p] - 1)),
      val: Int32Array.from(picks, (p) => ds.train[users[p]][ends[p] - 1]),
      test: Int32Array.from(picks, (p) => ds.train[users[p]][ends[p] - 1]),
    };
    const retrieval = await retrieveTopK(retriever, view, "val", LLAMAREC_CANDIDATES, { maskHistory: true, signal: o.signal });
    for (let i = 0; i < picks.length; i++) {
      if (!retrieval.hits[i]) continue;
      hits++;
      let candidates = retrieval.candidates[i];
      if (candidates[0] === view.val[i]) answerFirst++;
      if (o.maxExamples > 0 && found.length >= o.maxExamples) continue;
      const p = picks[i];
      const seen = view.train[i];
      if (o.candidates === "retriever-shuffled") {
        candidates = Int32Array.from(candidates);
        candidateRng(o.seed, users[p], ends[p]).shuffle(candidates);
      }
      const example: RankingExample = {
        user: users[p],
        history: Int32Array.from(seen.subarray(Math.max(0, seen.length - maxHistory))),
        candidates,
        answer: candidates.indexOf(view.val[i]),
      };
      found.push({ prefix: p, example });
    }
    scanned += picks.length;
    o.onProgress?.({ stage: "training candidates", done: scanned, total: users.length, unit: "prefixes", info: { found: found.length } });
  }
  if (found.length === 0) {
    throw new ReclmError("RECLM_ERR_BAD_DATASET", `no training prefix has its answer in ${retriever.name}'s top-${LLAMAREC_CANDIDATES}: nothing to fine-tune on with trainCandidates "${o.candidates}"`, { field: "trainCandidates" });
  }
  found.sort((a, b) => a.prefix - b.prefix);
  return { examples: found.map((f) => f.example), scanned, total: users.length, hits, answerFirst };
}
