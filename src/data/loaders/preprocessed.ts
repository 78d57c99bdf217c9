/**
 * Published splits kept with their own numbering so results compare exactly with the papers:
 * LRURec's ML-1M dataset.json (train/val/test/umap/smap) and LlamaRec's Beauty/Games dataset.json
 * (train/val/test/meta/umap/smap). Dense item id = the published sid; user index u = published uid - 1.
 */
import type { ItemInfo, SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import type { RawItemMeta } from "../raw.ts";
import { readText } from "./text.ts";

export interface PublishedSplitOptions {
  name: string;
  protocol: string;
  /** Title and metadata for an item: from `meta` (LlamaRec) or an external table keyed by raw id (ML-1M movies.dat). */
  item: (sid: number, rawId: string, metaTitle: string | undefined) => Omit<ItemInfo, "rawId">;
  requireMeta: boolean;
}

type Json = Record<string, unknown>;

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function invert(map: unknown, file: string, field: string, size?: number): string[] {
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new ReclmError("RECLM_ERR_BAD_DATASET", `"${field}" must be an object of raw id -> number`, { file, field });
  }
  const out: string[] = [];
  for (const [raw, v] of Object.entries(map as Json)) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", `"${field}[${raw}]" must be a positive integer, got ${JSON.stringify(v)}`, { file, field });
    }
    if (out[v - 1] !== undefined) throw new ReclmError("RECLM_ERR_BAD_DATASET", `"${field}" maps two raw ids to ${v}`, { file, field });
    out[v - 1] = raw;
  }
  const n = size ?? out.length;
  for (let k = 0; k < n; k++) {
    if (out[k] === undefined) throw new ReclmError("RECLM_ERR_BAD_DATASET", `"${field}" has no raw id for ${k + 1} (ids must be dense 1..${n})`, { file, field });
  }
  return out;
}

function seqOf(obj: Json, key: string, file: string, field: string, nItems: number): number[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw new ReclmError("RECLM_ERR_BAD_DATASET", `"${field}[${key}]" must be a list of item ids`, { file, field });
  for (const x of v) {
    if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > nItems) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", `"${field}[${key}]" has item id ${JSON.stringify(x)} outside 1..${nItems}`, { file, field });
    }
  }
  return v as number[];
}

/**
 * Reads a dataset.json mirror of a published pickle. Users whose val or test list is empty (possible in
 * LRURec-style splits of users with < 3 items) are dropped, since every user here has one val and one test item.
 */
export function loadPublishedSplit(file: string, opts: PublishedSplitOptions): SequenceDataset {
  const text = readText(file, "utf8");
  let d: Json;
  try {
    d = JSON.parse(text) as Json;
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? lineOfOffset(text, Number(m[1])) : undefined;
    throw new ReclmError("RECLM_ERR_BAD_DATASET", `not valid JSON: ${(e as Error).message}`, { file, line }, { cause: e });
  }
  if (typeof d !== "object" || d === null || Array.isArray(d)) {
    throw new ReclmError("RECLM_ERR_BAD_DATASET", "expected a JSON object with train/val/test/umap/smap", { file });
  }
  for (const k of ["train", "val", "test", "umap", "smap", ...(opts.requireMeta ? ["meta"] : [])]) {
    if (typeof d[k] !== "object" || d[k] === null || Array.isArray(d[k])) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", `missing or malformed key "${k}"`, { file, field: k });
    }
  }
  const itemRaw = invert(d.smap, file, "smap");
  const userRaw = invert(d.umap, file, "umap");
  const nItems = itemRaw.length;
  const train = d.train as Json;
  const val = d.val as Json;
  const test = d.test as Json;
  const meta = (d.meta ?? {}) as Json;

  const users: string[] = [];
  const trainOut: Int32Array[] = [];
  const valOut: number[] = [];
  const testOut: number[] = [];
  for (let uid = 1; uid <= userRaw.length; uid++) {
    const key = String(uid);
    const tr = seqOf(train, key, file, "train", nItems);
    const va = seqOf(val, key, file, "val", nItems);
    const te = seqOf(test, key, file, "test", nItems);
    if (va.length === 0 || te.length === 0) continue;
    if (va.length !== 1 || te.length !== 1) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", `user ${uid}: val and test must hold one item each`, { file, field: "val" });
    }
    users.push(userRaw[uid - 1]);
    trainOut.push(Int32Array.from(tr));
    valOut.push(va[0]);
    testOut.push(te[0]);
  }

  if (users.length === 0) throw new ReclmError("RECLM_ERR_BAD_DATASET", "no user has a train/val/test split", { file, field: "train" });
  const items: ItemInfo[] = [{ rawId: "", title: "" }];
  for (let sid = 1; sid <= nItems; sid++) {
    const t = meta[String(sid)];
    if (opts.requireMeta && (typeof t !== "string" || t.trim().length === 0)) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", `item ${sid} has no title in "meta"`, { file, field: "meta" });
    }
    items.push({ rawId: itemRaw[sid - 1], ...opts.item(sid, itemRaw[sid - 1], typeof t === "string" ? t : undefined) });
  }
  return {
    name: opts.name,
    protocol: opts.protocol,
    catalog: { size: nItems, items },
    users,
    train: trainOut,
    val: Int32Array.from(valOut),
    test: Int32Array.from(testOut),
  };
}

/** Item info from a raw-metadata table (e.g. movies.dat), with a title cleaner; missing entries are an error. */
export function itemFromTable(
  table: Map<string, RawItemMeta>,
  tableFile: string,
  clean: (t: string) => string,
): (sid: number, rawId: string) => Omit<ItemInfo, "rawId"> {
  return (sid, rawId) => {
    const m = table.get(rawId);
    if (!m?.title) {
      throw new ReclmError("RECLM_ERR_BAD_DATASET", `item sid ${sid} (raw id ${rawId}) has no entry with a title`, { file: tableFile });
    }
    const out: Omit<ItemInfo, "rawId"> = { title: clean(m.title) };
    if (m.text) out.text = m.text;
    if (m.attributes && Object.keys(m.attributes).length) out.attributes = m.attributes;
    return out;
  };
}
