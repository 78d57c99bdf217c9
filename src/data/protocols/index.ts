/**
 * Named protocols: raw log -> SequenceDataset. See README.md in this folder for the exact steps of each.
 */
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import type { RawData } from "../raw.ts";
import { kcoreIterative, kcoreSinglePass, keepAll, keepTitledItems, removeImmediateRepeats } from "./filters.ts";
import { leaveOneOut } from "./leaveOneOut.ts";

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
  switch (opts.protocol) {
    case "llamarec":
      keep = kcoreIterative(raw.log, keepTitledItems(raw, keep), 5, 5);
      break;
    case "lrurec":
      keep = kcoreSinglePass(raw.log, removeImmediateRepeats(raw.log, keep), 5, 5);
      break;
    case "none":
      break;
    default:
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown protocol "${opts.protocol}"`);
  }
  const ds = leaveOneOut(raw, keep, { name: opts.name, protocol: opts.protocol, title: opts.title });
  if (ds.users.length === 0) {
    throw new ReclmError(
      "RECLM_ERR_BAD_DATASET",
      `dataset "${opts.name}" has no user left after protocol "${opts.protocol}" (a leave-one-out split needs >= 3 interactions per user` +
        (opts.protocol === "none"
          ? ")"
          : `; this protocol also keeps only users and items with >= 5 interactions (${opts.protocol === "lrurec" ? "one pass, after dropping immediate repeats" : "repeated until stable"}); protocol "none" keeps every row)`),
      opts.source !== undefined ? { file: opts.source } : {},
    );
  }
  return ds;
}
