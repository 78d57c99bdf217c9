/**
 * The parameter groups the transformer-style model files declare alike (docs/model-recipes.md §0): a Linear's weight
 * and bias, a LayerNorm's gain and shift. One declaration each, so the decay groups (weights decayed; biases and
 * LayerNorms not) and the inits stay the recipes' in every model.
 */
import type { Param, ParamStore } from "../../engine/index.ts";
import { TRUNC } from "./inits.ts";

/** nn.Linear (weight [out, in], bias [out]) or nn.LayerNorm (weight, bias [D]), under PyTorch's names. */
export interface WeightBias {
  weight: Param;
  bias: Param;
}

/** `<name>.weight` ones and `<name>.bias` zeros, [d], neither decayed. */
export function declareLayerNorm(store: ParamStore, name: string, d: number): WeightBias {
  return {
    weight: store.add(`${name}.weight`, [d], { init: { kind: "ones" }, decay: false }),
    bias: store.add(`${name}.bias`, [d], { init: { kind: "zeros" }, decay: false }),
  };
}

/** `<name>.weight` [out, in] (decayed) and `<name>.bias` [out] (not), both truncated normal (std 0.02, ±0.04). */
export function declareLinear(store: ParamStore, name: string, out: number, inp: number): WeightBias {
  return {
    weight: store.add(`${name}.weight`, [out, inp], { init: TRUNC, decay: true }),
    bias: store.add(`${name}.bias`, [out], { init: TRUNC, decay: false }),
  };
}
