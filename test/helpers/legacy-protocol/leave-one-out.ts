/**
 * Leave-one-out split over the kept rows of a RawLog: each user's rows sorted by (timestamp, tie rank), the tie rank
 * being the dense item id unless the protocol gives the originals' (`tieRank`); the last is test, the second-last val,
 * the rest train. Users left with < 3 rows are dropped (they could
 * not give a train, a val and a test item). Dense ids follow canonical raw-id order (canonical.ts);
 * users are indexed in canonical raw-id order too.
 */
import type { Catalog, ItemInfo, SequenceDataset } from "../../../src/contracts.ts";
import type { RawData } from "../../../src/data/raw.ts";
import { canonicalSort } from "../../../src/data/protocols/canonical.ts";
import type { KeepMask } from "./filters.ts";

export interface SplitOptions {
  name: string;
  protocol: string;
  /** Turns raw metadata into the catalog title (e.g. MovieLens cleaning). Defaults to the raw title, else the raw id. */
  title?: (rawTitle: string | undefined, rawId: string) => string;
  minLength?: number;
  /** Per item code: the rank that orders rows with equal timestamps (default: the dense item id). */
  tieRank?: Int32Array;
}

export function leaveOneOut(raw: RawData, keep: KeepMask, opts: SplitOptions): SequenceDataset {
  const { log } = raw;
  const minLength = opts.minLength ?? 3;

  // Rows per user first, so that users too short to split do not keep items alive.
  const userRows = new Int32Array(log.userIds.length);
  for (let k = 0; k < log.length; k++) if (keep[k]) userRows[log.user[k]]++;
  const keptUser = (c: number) => userRows[c] >= minLength;

  const itemUsed = new Uint8Array(log.itemIds.length);
  for (let k = 0; k < log.length; k++) if (keep[k] && keptUser(log.user[k])) itemUsed[log.item[k]] = 1;

  const itemCodeOf = new Map<string, number>();
  log.itemIds.forEach((id, c) => itemCodeOf.set(id, c));
  const sortedItems = canonicalSort(log.itemIds.filter((_, c) => itemUsed[c]));
  const dense = new Int32Array(log.itemIds.length); // code -> dense id (0 = not kept)
  sortedItems.forEach((id, i) => (dense[itemCodeOf.get(id)!] = i + 1));

  const userCodeOf = new Map<string, number>();
  log.userIds.forEach((id, c) => userCodeOf.set(id, c));
  const users = canonicalSort(log.userIds.filter((_, c) => keptUser(c)));
  const userIndex = new Int32Array(log.userIds.length).fill(-1);
  users.forEach((id, u) => (userIndex[userCodeOf.get(id)!] = u));

  // Bucket row indices per user (counting sort), then sort each bucket by (time, dense id).
  const start = new Int32Array(users.length + 1);
  for (let k = 0; k < log.length; k++) if (keep[k] && userIndex[log.user[k]] >= 0) start[userIndex[log.user[k]] + 1]++;
  for (let u = 0; u < users.length; u++) start[u + 1] += start[u];
  const fill = start.slice(0, users.length);
  const rows = new Int32Array(start[users.length]);
  for (let k = 0; k < log.length; k++) {
    const u = keep[k] ? userIndex[log.user[k]] : -1;
    if (u >= 0) rows[fill[u]++] = k;
  }

  const train: Int32Array[] = [];
  const val = new Int32Array(users.length);
  const test = new Int32Array(users.length);
  const tie = opts.tieRank ?? dense;
  for (let u = 0; u < users.length; u++) {
    const mine = Array.from(rows.subarray(start[u], start[u + 1]));
    mine.sort((a, b) => log.time[a] - log.time[b] || tie[log.item[a]] - tie[log.item[b]]);
    const seq = Int32Array.from(mine, (k) => dense[log.item[k]]);
    train.push(seq.slice(0, seq.length - 2));
    val[u] = seq[seq.length - 2];
    test[u] = seq[seq.length - 1];
  }

  const titleOf = opts.title ?? ((t: string | undefined, id: string) => (t && t.length > 0 ? t : id));
  const items: ItemInfo[] = [{ rawId: "", title: "" }];
  for (const rawId of sortedItems) {
    const meta = raw.items.get(rawId);
    const info: ItemInfo = { rawId, title: titleOf(meta?.title, rawId) };
    if (meta?.text) info.text = meta.text;
    if (meta?.attributes && Object.keys(meta.attributes).length > 0) info.attributes = meta.attributes;
    items.push(info);
  }
  const catalog: Catalog = { size: sortedItems.length, items };
  return { name: opts.name, protocol: opts.protocol, catalog, users, train, val, test };
}
