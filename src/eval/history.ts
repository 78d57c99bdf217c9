import type { EvalSplit, SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

/**
 * The input history of user u for a split (contracts.ts): val -> train[u]; test -> train[u] + val[u].
 * Kept here (rather than importing src/data) so eval depends only on the contract, like every model does.
 */
export function inputHistory(ds: SequenceDataset, u: number, split: EvalSplit): Int32Array {
  const train = ds.train[u];
  if (split === "val") return train;
  const out = new Int32Array(train.length + 1);
  out.set(train);
  out[train.length] = ds.val[u];
  return out;
}

/** The held-out positive of user u for a split. */
export function targetOf(ds: SequenceDataset, u: number, split: EvalSplit): number {
  return split === "val" ? ds.val[u] : ds.test[u];
}

export function checkSplit(split: string): EvalSplit {
  if (split !== "val" && split !== "test") {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `split must be "val" or "test", got "${split}"`, { field: "split" });
  }
  return split;
}

/** User indices to evaluate: all users in order, or a validated explicit subset. */
export function resolveUsers(ds: SequenceDataset, users?: ArrayLike<number>): Int32Array {
  if (users === undefined) return Int32Array.from({ length: ds.users.length }, (_, i) => i);
  const out = Int32Array.from(users);
  for (const u of out) {
    if (u < 0 || u >= ds.users.length) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `user index ${u} is outside 0..${ds.users.length - 1}`, { field: "users" });
    }
  }
  return out;
}
