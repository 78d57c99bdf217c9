/**
 * What POST /v1/recommend and GET /v1/users/:id/recommendations do once the request is valid: turn the client's
 * history into dense ids (every unusable entry reported), score it in the shared batch, mask, take the top-k, and,
 * when asked, let the ranker re-order the retriever's top candidates through LlamaRec's RetrieveThenRank.
 */
import type { Ranker, Recommendation, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { topK } from "../eval/full-ranking.ts";
import { RetrieveThenRank } from "../methods/llamarec/retrieve-then-rank.ts";
import type { ScoreBatcher } from "./batcher.ts";
import type { CatalogIndex } from "./catalog.ts";
import { RequestError, type Problem } from "./errors.ts";

/** A history entry as the client sends it: an item id (string, or an integer for numeric ids) or a title. */
export type HistoryEntry = string | number | { title: string };

/** Problems listed in one answer; a 4,096-entry history of unknown ids gets the first ones and a count. */
const MAX_PROBLEMS = 50;
/** Unknown titles answered with the closest titles (the rest are named only). */
const MAX_SUGGESTED = 3;

/** Dense ids of the client's history, oldest first. Throws one RequestError listing every entry that cannot be used. */
export function resolveHistory(entries: readonly HistoryEntry[], index: CatalogIndex): Int32Array {
  const ids = new Int32Array(entries.length);
  const problems: Problem[] = [];
  const firstAt = new Map<number, number>();
  let suggested = 0;
  entries.forEach((e, j) => {
    const field = `history[${j}]`;
    let id: number | undefined;
    if (typeof e === "object") {
      const matches = index.idsWithTitle(e.title);
      if (matches.length === 0) {
        // Suggestions cost a pass over the titles: the first few unknown titles get them, not a 4,096-entry history.
        const message = index.lookup.unknownTitleMessage(e.title, suggested++ < MAX_SUGGESTED ? 3 : 0);
        problems.push({ field, code: "RECLM_ERR_UNKNOWN_ITEM", message });
      } else if (matches.length > 1) {
        const which = matches.slice(0, 5).map((m) => JSON.stringify(index.item(m).rawId)).join(", ");
        problems.push({ field, code: "RECLM_ERR_BAD_REQUEST", message: `${matches.length} items have the title ${JSON.stringify(e.title)} (ids ${which}): give the id` });
      } else id = matches[0];
    } else {
      id = index.idOf(String(e));
      if (id === undefined) {
        // A title sent as a plain string is the likeliest slip: say how to send it.
        const titled = index.idsWithTitle(String(e)).length > 0;
        const hint = titled ? `; it is a title: send {"title": ${JSON.stringify(String(e))}}` : "";
        problems.push({ field, code: "RECLM_ERR_UNKNOWN_ITEM", message: `unknown item id ${JSON.stringify(String(e))}${hint}` });
      }
    }
    if (id === undefined) return;
    const before = firstAt.get(id);
    if (before !== undefined) {
      problems.push({ field, code: "RECLM_ERR_BAD_REQUEST", message: `item ${JSON.stringify(index.item(id).rawId)} is already history[${before}]: a history lists each item once` });
      return;
    }
    firstAt.set(id, j);
    ids[j] = id;
  });
  if (problems.length > 0) {
    const allUnknown = problems.every((p) => p.code === "RECLM_ERR_UNKNOWN_ITEM");
    const more = problems.length > MAX_PROBLEMS ? ` (the first ${MAX_PROBLEMS} are listed)` : "";
    throw new RequestError(
      allUnknown ? "RECLM_ERR_UNKNOWN_ITEM" : "RECLM_ERR_BAD_REQUEST",
      `${problems.length} of ${entries.length} history entries cannot be used${more}; the first: ${problems[0].message}`,
      problems[0].field,
      problems.slice(0, MAX_PROBLEMS),
    );
  }
  return ids;
}

export interface RecommendRequest {
  /** Dense ids, oldest first, no repeats. */
  history: Int32Array;
  k: number;
  excludeSeen: boolean;
  rank: boolean;
}

export interface RecommendAnswer {
  items: Recommendation[];
  /** With rank: the retriever's own top-k. */
  retrieved?: Recommendation[];
  historyUsed: number;
  warnings: string[];
  timings: { queueMs: number; retrieveMs: number; rankMs?: number; batchSize: number };
}

export interface RecommendDeps {
  retriever: SequentialRecommender;
  batcher: ScoreBatcher;
  ranker?: Ranker;
  /** Candidates the ranker re-orders (LlamaRec: 20). */
  candidates: number;
  /** See RetrieveThenRankOptions.fusionWeight. Default 0. */
  fusionWeight?: number;
}

export async function recommend(req: RecommendRequest, deps: RecommendDeps, signal?: AbortSignal): Promise<RecommendAnswer> {
  const { retriever, batcher, ranker } = deps;
  if (req.rank && !ranker) throw new RequestError("RECLM_ERR_BAD_REQUEST", "no ranker is loaded (start the server with --ranker <run dir>)", "rank");
  const warnings: string[] = [];
  const window = retriever.inputWindow;
  let input = req.history;
  if (window !== undefined && input.length > window) {
    input = input.subarray(input.length - window);
    warnings.push(`${retriever.name} reads the last ${window} of the history's ${req.history.length} items (its input window)${req.excludeSeen ? "; all of them are left out of the answer" : ""}`);
  }
  if (retriever.topK) return recommendApproximate(req, deps, input, warnings, signal);
  const scored = await batcher.score(input, signal);
  const row = scored.row;
  row[0] = -Infinity;
  if (req.excludeSeen) for (const i of req.history) row[i] = -Infinity;
  const retrieved = pick(row, req.k);
  const timings: RecommendAnswer["timings"] = { queueMs: scored.queueMs, retrieveMs: scored.forwardMs, batchSize: scored.batchSize };
  if (!req.rank || !ranker) return { items: retrieved, historyUsed: input.length, warnings, timings };

  // RetrieveThenRank does LlamaRec's candidate selection and ordering; it reads the row already scored in the batch
  // rather than running a second forward. One instance per request keeps its lastTimings this request's own.
  const scoredRow: SequentialRecommender = { name: retriever.name, nItems: retriever.nItems, scoreAll: async () => row.slice() };
  const rtr = new RetrieveThenRank(scoredRow, ranker, { candidates: deps.candidates, fusionWeight: deps.fusionWeight });
  const ranked = await abortable(rtr.recommend(req.history, { k: req.k, excludeSeen: req.excludeSeen }), signal);
  timings.rankMs = rtr.lastTimings.rankMs;
  return { items: ranked, retrieved, historyUsed: input.length, warnings, timings };
}

/**
 * A retriever with an approximate index (src/models/ann.ts): its top k comes from the index, one request at a time
 * (no catalogue-wide score row to share in a batch); the ranker re-orders that retriever's own top candidates.
 */
async function recommendApproximate(req: RecommendRequest, deps: RecommendDeps, input: Int32Array, warnings: string[], signal?: AbortSignal): Promise<RecommendAnswer> {
  const { retriever, ranker } = deps;
  const started = performance.now();
  const [top] = await abortable(retriever.topK!([input], req.k, [req.excludeSeen ? req.history : new Int32Array(0)]), signal);
  const retrieved = Array.from(top.items, (item, j) => ({ item, score: top.scores[j] }));
  const timings: RecommendAnswer["timings"] = { queueMs: 0, retrieveMs: performance.now() - started, batchSize: 1 };
  if (!req.rank || !ranker) return { items: retrieved, historyUsed: input.length, warnings, timings };
  const rtr = new RetrieveThenRank(retriever, ranker, { candidates: deps.candidates, fusionWeight: deps.fusionWeight });
  const ranked = await abortable(rtr.recommend(req.history, { k: req.k, excludeSeen: req.excludeSeen }), signal);
  timings.rankMs = rtr.lastTimings.rankMs;
  return { items: ranked, retrieved, historyUsed: input.length, warnings, timings };
}

/** The top k of a masked row; items masked out (-Infinity) are never returned, so fewer than k may come back. */
function pick(row: Float32Array, k: number): Recommendation[] {
  return Array.from(topK(row, k), (item) => {
    const score = row[item];
    if (!Number.isFinite(score)) throw new ReclmError("RECLM_ERR_SHAPE", `the retriever scored item ${item} ${score}`, { field: "scoreAll" });
    return { item, score };
  });
}

/** Settles with the signal's reason when it aborts first (a ranker call cannot itself be cancelled). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
