/**
 * Opening a ranker run dir for the service (`reclm serve --ranker <dir>`): the one place the CLI asks, so a method's
 * loader plugs in here without touching the server or the CLI. Today: LlamaRec's fine-tuned verbalizer (a run dir of
 * `reclm finetune llamarec`). The server calls `rank` one request at a time, so one llama.cpp sequence suffices.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Ranker, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { openLlamaRecRanker } from "../methods/llamarec/open.ts";
import { RANKER_CONFIG } from "../methods/llamarec/run.ts";

export interface LoadRankerOptions {
  /** CPU threads for the LLM. */
  threads?: number;
}

export async function loadRanker(dir: string, ds: SequenceDataset, options: LoadRankerOptions = {}): Promise<Ranker> {
  if (!existsSync(join(dir, RANKER_CONFIG))) {
    throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", "not a ranker run dir (no config.json): make one with `reclm finetune llamarec --out <dir>`", { file: dir, field: "--ranker" });
  }
  return openLlamaRecRanker(dir, ds, { threads: options.threads, parallel: 1 });
}
