/**
 * The recipes' initialisations, shared by the model files.
 * - TRUNC: N(0, 0.02²) clipped to ±0.04, the authors' truncated_normal_init, which every model's blocks use.
 * - Embeddings of the transformer models: the recipes' PyTorch code leaves them at nn.Embedding's default N(0, 1) (its
 *   truncated-normal loop covers the blocks only); tied to a full-softmax head, that start puts the loss near 40 and
 *   costs thousands of steps to unlearn (docs/model-recipes.md §8). "truncated-normal" (TRUNC) is reclm's named
 *   deviation for short budgets.
 */
import type { Init } from "../../engine/index.ts";
import { ReclmError } from "../../errors.ts";

export const EMBEDDING_INITS = ["normal", "truncated-normal"] as const;
export type EmbeddingInit = (typeof EMBEDDING_INITS)[number];

export const TRUNC = { kind: "truncNormal", std: 0.02, bound: 0.04 } as const;

/** The Init of `choice`; resolveConfig validates it too, this guards a config built in code and handed to a model. */
export function embeddingInit(choice: EmbeddingInit): Init {
  if (!EMBEDDING_INITS.includes(choice)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `embeddingInit must be ${EMBEDDING_INITS.map((v) => JSON.stringify(v)).join(" or ")}, got ${JSON.stringify(choice)}`, { field: "embeddingInit" });
  }
  return choice === "normal" ? { kind: "normal", std: 1 } : TRUNC;
}
