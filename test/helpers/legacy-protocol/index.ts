/**
 * LEGACY: reclm's data protocols as they were in TypeScript before the DuckDB path (commit 59ced1c), kept only as
 * the reference test/data/protocols.test.ts compares src/data/prepare.ts against on random logs.
 *
 * Named protocols: raw log -> SequenceDataset. See README.md in this folder for the exact steps of each.
 */
import type { SequenceDataset } from "../../../src/contracts.ts";
import { ReclmError } from "../../../src/errors.ts";
import type { RawData } from "../../../src/data/raw.ts";
import { kcoreIterative, kcoreSinglePass, keepAll, keepTitledItems, removeImmediateRepeats, type KeepMask } from "./filters.ts";
import { leaveOneOut } from "./leave-one-out.ts";
import { pythonIntSetOrder } from "../../../src/data/protocols/python-set-order.ts";

export const RAW_PROTOCOLS = ["llamarec", "lrurec", "none"] as const;

export interface ProtocolOptions {
  name: string;
  protocol: string;
  /** The dataset's title cleaner (MovieLens, Amazon, plain trim). */
  title: (rawTitle: string | undefined, rawId: string) => string;
  /** The interactions file, named in the error when nothing survives the protocol. */
  source?: string;
}

export function applyProtocol(raw: RawData, opts: ProtocolOptions): SequenceDataset {
  let keep = keepAll(raw.log);
  let untitledRows = 0;
  switch (opts.protocol) {
    case "llamarec": {
      const titled = keepTitledItems(raw, keep);
      for (let k = 0; k < titled.length; k++) untitledRows += keep[k] - titled[k];
      keep = kcoreIterative(raw.log, titled, 5, 5);
      break;
    }
    case "lrurec":
      keep = kcoreSinglePass(raw.log, removeImmediateRepeats(raw.log, keep), 5, 5);
      break;
    case "none":
      break;
    default:
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown protocol "${opts.protocol}"`);
  }
  // The papers' code sorts equal timestamps by an id numbered in Python set() order; reproducible for integer ids.
  const tieRank = opts.protocol === "none" ? undefined : pythonSetTieRank(raw, keep);
  const split = leaveOneOut(raw, keep, { name: opts.name, protocol: opts.protocol, title: opts.title, tieRank });
  const ds = raw.untitled ? { ...split, untitledItems: raw.untitled } : split;
  if (ds.users.length === 0) {
    // Untitled items emptying the data usually means ids that do not match the items file: say how much it took.
    const untitled = untitledRows > 0 ? `; dropping items without a title removed ${untitledRows} of ${raw.log.length} rows before the k-core` : "";
    throw new ReclmError(
      "RECLM_ERR_BAD_DATASET",
      `dataset "${opts.name}" has no user left after protocol "${opts.protocol}" (a leave-one-out split needs >= 3 interactions per user` +
        (opts.protocol === "none"
          ? ")"
          : `; this protocol also keeps only users and items with >= 5 interactions (${opts.protocol === "lrurec" ? "one pass, after dropping immediate repeats" : "repeated until stable"}); protocol "none" keeps every row)`) +
        untitled,
      opts.source !== undefined ? { file: opts.source } : {},
    );
  }
  return ds;
}

/** An id pandas reads as one exact int: no leading zeros (two spellings of one number), below 2^53. */
const PLAIN_INTEGER = /^(0|[1-9]\d{0,14})$/;

/**
 * LlamaRec's and LRURec's `densify_index` numbers items by `enumerate(set(df['sid']))` over the filtered rows, and
 * `split_df` sorts each history by (timestamp, that number). With integer item ids (MovieLens) that order is
 * CPython's, reproduced here: per item code, its position in the set. Other ids (Amazon ASINs, Steam names) hash
 * with a per-process salt in Python, so the originals' order cannot be known: they keep reclm's canonical order.
 */
export function pythonSetTieRank(raw: RawData, keep: KeepMask): Int32Array | undefined {
  const { log } = raw;
  const used = new Uint8Array(log.itemIds.length);
  for (let k = 0; k < log.length; k++) if (keep[k]) used[log.item[k]] = 1;
  for (let c = 0; c < log.itemIds.length; c++) if (used[c] && !PLAIN_INTEGER.test(log.itemIds[c])) return undefined;
  const values: number[] = [];
  for (let k = 0; k < log.length; k++) if (keep[k]) values.push(Number(log.itemIds[log.item[k]]));
  const rankOf = new Map<number, number>();
  pythonIntSetOrder(values).forEach((v, r) => rankOf.set(v, r + 1));
  const rank = new Int32Array(log.itemIds.length);
  for (let c = 0; c < log.itemIds.length; c++) if (used[c]) rank[c] = rankOf.get(Number(log.itemIds[c]))!;
  return rank;
}
