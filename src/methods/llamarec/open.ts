/**
 * A fine-tuned LlamaRec ranker ready to serve: the run dir's base LLM loaded by llama.cpp with its adapter, and the
 * verbalizer over the dataset's catalog; with the run's retriever it becomes the whole recommender
 * (RetrieveThenRank). The CLI's `recommend`, `eval` and the service open rankers here.
 */
import type { Ranker, SequenceDataset } from "../../contracts.ts";
import { loadLlamaCppModel, type LlmRuntimeOptions } from "../../llm/runtime.ts";
import { resolveModel } from "../../models/resolve.ts";
import { RetrieveThenRank } from "./retrieve-then-rank.ts";
import { checkRunDataset, rankerSpecsOf } from "./run.ts";
import { verbalizerForSpec } from "./verbalizer.ts";

export interface OpenRankerOptions extends LlmRuntimeOptions {
  /** Prompts llama.cpp evaluates side by side (concurrent requests). Default 4. */
  parallel?: number;
  /** Rank with the base LLM only (no adapter). */
  zeroShot?: boolean;
}

/** The run dir's ranker (base LLM + adapter) over `ds`'s catalog. dispose() frees the model too. */
export async function openLlamaRecRanker(dir: string, ds: SequenceDataset, options: OpenRankerOptions = {}): Promise<Ranker & { dispose(): Promise<void> }> {
  const { run, specs } = rankerSpecsOf(dir, { zeroShot: options.zeroShot });
  checkRunDataset(run, dir, ds);
  const spec = options.zeroShot ? specs[0] : specs[specs.length - 1];
  const model = await loadLlamaCppModel(spec.llm, { threads: options.threads, gpu: options.gpu });
  try {
    const verbalizer = await verbalizerForSpec(model, ds.catalog, spec, { parallel: options.parallel ?? 4 });
    return {
      name: verbalizer.name,
      rank: (history, candidates) => verbalizer.rank(history, candidates),
      async dispose() {
        await verbalizer.dispose();
        await model.dispose();
      },
    };
  } catch (e) {
    await model.dispose();
    throw e;
  }
}

/** LlamaRec end to end from a ranker run dir: its retriever's top-20 re-ordered by its fine-tuned ranker. */
export async function openLlamaRec(dir: string, ds: SequenceDataset, options: OpenRankerOptions & { retriever?: string; fusionWeight?: number } = {}): Promise<RetrieveThenRank> {
  const { run } = rankerSpecsOf(dir, { zeroShot: options.zeroShot });
  const retriever = await resolveModel(options.retriever ?? run.retriever, ds, { split: "test" });
  try {
    const ranker = await openLlamaRecRanker(dir, ds, options);
    return new RetrieveThenRank(retriever, ranker, { name: options.zeroShot ? "llamarec-zero-shot" : "llamarec", fusionWeight: options.fusionWeight });
  } catch (e) {
    await retriever.dispose?.();
    throw e;
  }
}
