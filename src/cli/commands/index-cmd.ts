import { Command } from "commander";
import { ANN_MIN_ITEMS, buildRunIndex, DEFAULT_ANN_SETTINGS } from "../../models/ann.ts";
import { loadTrained } from "../../models/registry.ts";
import { parsePositiveInt } from "../common.ts";

interface IndexOptions {
  model: string;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  threads?: number;
}

/** `reclm index`: (re)builds a run dir's approximate item index (src/models/ann.ts). */
export function indexCommand(): Command {
  return new Command("index")
    .description(
      `build the approximate nearest-neighbour index of a trained retriever's items into its run dir (ann.usearch); ` +
        `retrieval and the service use it for catalogs of ${ANN_MIN_ITEMS.toLocaleString("en-US")} items or more (training builds it for those already)`,
    )
    .requiredOption("-m, --model <run dir>", "run dir of reclm train")
    .option("--connectivity <n>", "links per node (HNSW M)", parsePositiveInt("--connectivity"), DEFAULT_ANN_SETTINGS.connectivity)
    .option("--expansion-add <n>", "candidates kept while building", parsePositiveInt("--expansion-add"), DEFAULT_ANN_SETTINGS.expansionAdd)
    .option("--expansion-search <n>", "candidates kept while searching (more: better recall, slower queries)", parsePositiveInt("--expansion-search"), DEFAULT_ANN_SETTINGS.expansionSearch)
    .option("--threads <n>", "threads for building", parsePositiveInt("--threads"))
    .action((opts: IndexOptions) => {
      const model = loadTrained(opts.model, { threads: opts.threads });
      try {
        const index = buildRunIndex(model, opts.model, { connectivity: opts.connectivity, expansionAdd: opts.expansionAdd, expansionSearch: opts.expansionSearch }, opts.threads ?? 0);
        process.stdout.write(
          `indexed ${index.size} items of ${model.name} (${index.meta.dim} dimensions, inner product) in ${(index.meta.buildSeconds ?? 0).toFixed(1)} s into ${opts.model}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}
