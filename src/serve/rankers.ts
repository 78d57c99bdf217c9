/**
 * Opening a ranker run dir for the service (`reclm serve --ranker <dir>`): the one place the CLI asks, so that a
 * method's loader (LlamaRec's fine-tuned verbalizer first) plugs in here without touching the server or the CLI.
 */
import type { Ranker, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

export interface LoadRankerOptions {
  /** CPU threads for the LLM. */
  threads?: number;
}

export async function loadRanker(dir: string, ds: SequenceDataset, options: LoadRankerOptions = {}): Promise<Ranker> {
  void ds;
  void options;
  throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", "ranker run dirs are not supported yet: reclm serve runs the retriever alone until a ranker loader is wired in src/serve/rankers.ts", {
    file: dir,
    field: "--ranker",
  });
}
