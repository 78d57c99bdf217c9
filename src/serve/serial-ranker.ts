/**
 * The service calls its ranker from concurrent requests; an LLM ranker (one llama.cpp context, one engine graph) is
 * not re-entrant. This wrapper runs one `rank` at a time in arrival order, and refuses at once (503 + Retry-After)
 * when `maxWaiting` calls already wait, so a slow LLM under load sheds instead of piling up requests.
 */
import type { Ranker } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

export function serialRanker(ranker: Ranker, maxWaiting: number): Ranker {
  if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxWaiting must be a non-negative integer, got ${maxWaiting}`, { field: "maxWaiting" });
  let tail: Promise<unknown> = Promise.resolve();
  /** Calls running or waiting. */
  let pending = 0;
  return {
    name: ranker.name,
    rank(history, candidates) {
      if (pending > maxWaiting) {
        return Promise.reject(new ReclmError("RECLM_ERR_OVERLOADED", `the ranker is busy (${pending - 1} requests waiting for it); retry shortly`));
      }
      pending++;
      const turn = tail.then(() => ranker.rank(history, candidates)).finally(() => pending--);
      tail = turn.catch(() => undefined);
      return turn;
    },
    dispose: () => ranker.dispose?.(),
  };
}
