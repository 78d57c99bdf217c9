/**
 * Continuing a run from its run dir: the checkpoint must be there, and the run dir must be this model's, on this
 * dataset and split. Its config.json then rules: the caller's overrides may only repeat it, so a resumed run follows
 * the uninterrupted one exactly.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { CHECKPOINT_FILE } from "../../train/run-dir.ts";
import { resolveConfig, savedConfig } from "./config.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./contract.ts";
import { checkFingerprint, CONFIG_FILE, readSavedConfig, type SavedModelConfig } from "./recommender.ts";

export interface ResumeRequest<C extends BaseModelConfig> {
  outDir?: string;
  preset?: string;
  config?: Partial<C> | Record<string, unknown>;
}

/** The config and preset of the run in `outDir`, checked against the model and the dataset it resumes on. */
export function resumedRun<C extends BaseModelConfig, P>(def: NeuralModelDefinition<C, P>, ds: SequenceDataset, request: ResumeRequest<C>): { config: C; preset: string | undefined } {
  if (!request.outDir) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "resume needs an outDir (the run dir to continue)", { field: "resume" });
  const ckptPath = join(request.outDir, CHECKPOINT_FILE);
  if (!existsSync(ckptPath)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "nothing to resume: no checkpoint in the run dir", { file: ckptPath });
  const file = join(request.outDir, CONFIG_FILE);
  const saved = checkSaved(readSavedConfig(request.outDir), file, def, ds);
  return resumedConfig(def, saved, request, file);
}

function checkSaved<C extends BaseModelConfig, P>(saved: SavedModelConfig, file: string, def: NeuralModelDefinition<C, P>, ds: SequenceDataset): SavedModelConfig {
  const bad = (field: string, msg: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", msg, { file, field });
  if (saved.model !== def.name) throw bad("model", `run dir is for model "${saved.model}", not "${def.name}"`);
  if (saved.dataset !== ds.name || saved.datasetProtocol !== ds.protocol) {
    throw bad("dataset", `run dir was trained on ${saved.dataset} (protocol ${saved.datasetProtocol}), not ${ds.name} (protocol ${ds.protocol})`);
  }
  if (saved.nItems !== ds.catalog.size) throw bad("nItems", `run dir has ${saved.nItems} items, dataset has ${ds.catalog.size}`);
  checkFingerprint(saved, ds, file, "resume on");
  return saved;
}

/** On resume the run dir's config rules; user overrides may only repeat it. */
function resumedConfig<C extends BaseModelConfig, P>(def: NeuralModelDefinition<C, P>, saved: SavedModelConfig, options: ResumeRequest<C>, file: string): { config: C; preset: string | undefined } {
  const { config } = resolveConfig(def, { preset: "none", config: savedConfig<C>(saved.config as unknown as Record<string, unknown>), source: file });
  if (options.preset !== undefined && options.preset !== (saved.preset ?? "none")) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cannot change the preset on resume (run dir has ${saved.preset ?? "none"}, asked ${options.preset})`, { file, field: "preset" });
  }
  for (const [k, v] of Object.entries(options.config ?? {})) {
    if (JSON.stringify((config as Record<string, unknown>)[k]) !== JSON.stringify(v)) {
      throw new ReclmError(
        "RECLM_ERR_BAD_CONFIG",
        `cannot change "${k}" on resume (run dir has ${JSON.stringify((config as Record<string, unknown>)[k])}, asked ${JSON.stringify(v)})`,
        { file, field: k },
      );
    }
  }
  return { config, preset: saved.preset };
}

