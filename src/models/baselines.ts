/**
 * The training-free baselines by name. The models registry (registry.ts) can list these beside the trained models.
 */
import type { SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { CoocRecommender, type CoocConfig } from "./cooc.ts";
import { PopRecommender, type BaselineOptions } from "./pop.ts";

export const BASELINE_NAMES = ["pop", "cooc"] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

export function isBaselineName(name: string): name is BaselineName {
  return (BASELINE_NAMES as readonly string[]).includes(name);
}

export function createBaseline(name: string, ds: SequenceDataset, options: BaselineOptions & CoocConfig = {}): SequentialRecommender {
  switch (name) {
    case "pop":
      return PopRecommender.fromDataset(ds, options);
    case "cooc":
      return CoocRecommender.fromDataset(ds, options);
    default:
      throw new ReclmError("RECLM_ERR_UNKNOWN_MODEL", `unknown baseline "${name}"; valid: ${BASELINE_NAMES.join(", ")}`, { field: "model" });
  }
}
