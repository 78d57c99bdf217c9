/**
 * A model spec -> a SequentialRecommender ready to score a dataset. A spec is a baseline's name (built for the split)
 * or the run dir of a trained retriever (checked against the dataset it is asked to score). A trainable model's bare
 * name is not a model yet: the error says how to train it. The CLI's `--model`, the methods' retrievers and the
 * service all resolve through here.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { EvalSplit, SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { checkFingerprint, CONFIG_FILE, readSavedConfig } from "./neural/recommender.ts";
import { BASELINE_NAMES, loadTrained, lookupModel } from "./registry.ts";
import { ANN_INDEX_FILE, ANN_MIN_ITEMS, AnnRecommender, ItemIndex } from "./ann.ts";

export interface ResolveContext {
  /** The split the model will be evaluated on (training-free baselines learn from what that split may see). */
  split: EvalSplit;
  /** ggml threads of a trained model (default: $RECLM_THREADS or the core count). */
  threads?: number;
  /**
   * A run dir with an approximate item index retrieves through it from this catalog size on (default ANN_MIN_ITEMS,
   * src/models/ann.ts); Infinity keeps exact search everywhere.
   */
  annMinItems?: number;
}

/** What `--help` and the unknown-model error list: the baselines and "<run dir>". */
export function knownModelNames(): string[] {
  return [...BASELINE_NAMES, "<run dir of reclm train>"];
}

export async function resolveModel(spec: string, ds: SequenceDataset, ctx: ResolveContext): Promise<SequentialRecommender> {
  const entry = lookupModel(spec);
  if (entry?.kind === "baseline") return entry.create(ds, { split: ctx.split });
  const isRunDir = existsSync(join(spec, CONFIG_FILE));
  if (entry?.kind === "neural" && !isRunDir) {
    throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `"${spec}" must be trained first: reclm train --model ${spec} --dataset ${ds.name} --out runs/${spec}, then --model runs/${spec}`, {
      field: "--model",
    });
  }
  if (!isRunDir) throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown model "${spec}" (known: ${knownModelNames().join(", ")})`, { field: "--model" });
  return loadRunFor(spec, ds, ctx);
}

/**
 * A run dir's model, refused when it was trained on another dataset, protocol or split than `ds`; retrieving through
 * the run's approximate item index when it has one and the catalog is at least `ctx.annMinItems` items.
 */
function loadRunFor(dir: string, ds: SequenceDataset, ctx: ResolveContext): SequentialRecommender {
  const file = join(dir, CONFIG_FILE);
  const saved = readSavedConfig(dir);
  if (saved.dataset !== undefined && (saved.dataset !== ds.name || saved.datasetProtocol !== ds.protocol)) {
    throw new ReclmError(
      "RECLM_ERR_BAD_CONFIG",
      `run dir was trained on ${saved.dataset} (protocol ${saved.datasetProtocol}); it cannot score ${ds.name} (protocol ${ds.protocol})`,
      { file, field: "dataset" },
    );
  }
  checkFingerprint(saved, ds, file, "score");
  const model = loadTrained(dir, { threads: ctx.threads });
  if (model.nItems < (ctx.annMinItems ?? ANN_MIN_ITEMS) || !existsSync(join(dir, ANN_INDEX_FILE))) return model;
  try {
    return new AnnRecommender(model, ItemIndex.load(dir));
  } catch (e) {
    model.dispose();
    throw e;
  }
}
