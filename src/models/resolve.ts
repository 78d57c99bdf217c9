/**
 * A model spec (a baseline's name, or the run dir of a trained retriever) -> a SequentialRecommender ready to score a
 * dataset. Resolvers are tried in order; each claims the specs it knows. The CLI's `--model`, the methods' retrievers
 * and the service all resolve through here.
 */
import type { EvalSplit, SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BASELINE_NAMES, createBaseline, isBaselineName } from "./baselines.ts";
import { checkFingerprint, CONFIG_FILE, readSavedConfig } from "./neural/recommender.ts";
import { isNeuralModelName, loadTrained } from "./registry.ts";
import { ANN_INDEX_FILE, ANN_MIN_ITEMS, AnnRecommender, ItemIndex } from "./ann.ts";

export interface ResolveContext {
  /** The split the model will be evaluated on (training-free baselines learn from what that split may see). */
  split: EvalSplit;
  /** ggml CPU threads for a trained model (default: $RECLM_THREADS or the core count). */
  threads?: number;
  /**
   * A run dir with an approximate item index retrieves through it from this catalog size on (default ANN_MIN_ITEMS,
   * src/models/ann.ts); Infinity keeps exact search everywhere.
   */
  annMinItems?: number;
}

export interface ModelResolver {
  /** What `--help` and the unknown-model error list, e.g. "pop", "cooc", "<checkpoint dir>". */
  names: readonly string[];
  resolve(spec: string, ds: SequenceDataset, ctx: ResolveContext): Promise<SequentialRecommender | undefined>;
}

const baselines: ModelResolver = {
  names: BASELINE_NAMES,
  async resolve(spec, ds, ctx) {
    return isBaselineName(spec) ? createBaseline(spec, ds, { split: ctx.split }) : undefined;
  },
};

/** A run dir written by `reclm train` (config.json + model.safetensors); it must match the dataset it is run on. */
const trainedRuns: ModelResolver = {
  names: ["<run dir of reclm train>"],
  async resolve(spec, ds, ctx) {
    if (isNeuralModelName(spec) && !existsSync(join(spec, CONFIG_FILE))) {
      throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `"${spec}" must be trained first: reclm train --model ${spec} --dataset ${ds.name} --out runs/${spec}, then --model runs/${spec}`, {
        field: "--model",
      });
    }
    if (!existsSync(join(spec, CONFIG_FILE))) return undefined;
    const saved = readSavedConfig(spec);
    if (saved.dataset !== undefined && (saved.dataset !== ds.name || saved.datasetProtocol !== ds.protocol)) {
      throw new ReclmError(
        "RECLM_ERR_BAD_CONFIG",
        `run dir was trained on ${saved.dataset} (protocol ${saved.datasetProtocol}); it cannot score ${ds.name} (protocol ${ds.protocol})`,
        { file: join(spec, CONFIG_FILE), field: "dataset" },
      );
    }
    checkFingerprint(saved, ds, join(spec, CONFIG_FILE), "score");
    const model = loadTrained(spec, { threads: ctx.threads });
    if (model.nItems < (ctx.annMinItems ?? ANN_MIN_ITEMS) || !existsSync(join(spec, ANN_INDEX_FILE))) return model;
    try {
      return new AnnRecommender(model, ItemIndex.load(spec));
    } catch (e) {
      model.dispose();
      throw e;
    }
  },
};

export const MODEL_RESOLVERS: ModelResolver[] = [baselines, trainedRuns];

export function knownModelNames(): string[] {
  return MODEL_RESOLVERS.flatMap((r) => [...r.names]);
}

export async function resolveModel(spec: string, ds: SequenceDataset, ctx: ResolveContext): Promise<SequentialRecommender> {
  for (const r of MODEL_RESOLVERS) {
    const model = await r.resolve(spec, ds, ctx);
    if (model) return model;
  }
  throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown model "${spec}" (known: ${knownModelNames().join(", ")})`, { field: "--model" });
}
