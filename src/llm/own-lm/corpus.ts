/**
 * The text reclm's own language model learns from, built from a dataset's TRAINING split only (never a validation or
 * test interaction, so nothing the evaluations ask about leaks into the LM):
 *
 * - one document per catalog item: its title, then its genres/categories/tags and its free text where the dataset
 *   has them ("Toy Story (1995): Adventure, Animation, Children. A 1995 animated film.");
 * - each user's training history written as the numbered title lists the ranking prompts use
 *   ("(1) Heat (1995) \n (2) Casino (1995) \n ..."), cut into windows of `historyWindow` items.
 *
 * A seeded share of the documents is held out (never trained on) to measure perplexity.
 */
import type { ItemInfo, SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { Rng } from "../../rng.ts";

export interface LmCorpusOptions {
  /** Items per history document (default 20, the ranking prompt's history length). */
  historyWindow?: number;
  /** Start of one history document to the next, in items (default = historyWindow: no overlap). */
  historyStride?: number;
  /** Share of the documents held out for perplexity (default 0.05). */
  heldOutShare?: number;
  seed?: number;
}

export interface LmCorpus {
  train: string[];
  heldOut: string[];
  /** Documents per kind, before the split. */
  counts: { items: number; histories: number };
}

/** An attribute value as text ("Adventure, Animation"). */
function attributeText(v: string | string[]): string {
  return Array.isArray(v) ? v.join(", ") : v;
}

/** One item as text: the title, its descriptive attributes and its free text. */
export function itemDocument(item: ItemInfo): string {
  const attrs = Object.entries(item.attributes ?? {})
    // The year is already in most titles; ids and part numbers say nothing a reader could use.
    .filter(([k]) => !["year", "part", "id"].includes(k))
    .map(([, v]) => attributeText(v))
    .filter((s) => s.length > 0);
  const head = attrs.length ? `${item.title}: ${attrs.join("; ")}.` : item.title;
  return item.text ? `${head} ${item.text}` : head;
}

/** A window of a history as the ranking prompts write it. */
export function historyDocument(titles: readonly string[]): string {
  return titles.map((t, i) => `(${i + 1}) ${t}`).join(" \n ");
}

export function buildLmCorpus(ds: SequenceDataset, options: LmCorpusOptions = {}): LmCorpus {
  const window = options.historyWindow ?? 20;
  const stride = options.historyStride ?? window;
  const share = options.heldOutShare ?? 0.05;
  if (!(Number.isInteger(window) && window > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `historyWindow must be a positive integer, got ${window}`, { field: "historyWindow" });
  if (!(Number.isInteger(stride) && stride > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `historyStride must be a positive integer, got ${stride}`, { field: "historyStride" });
  if (!(share >= 0 && share < 1)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `heldOutShare must be in [0, 1), got ${share}`, { field: "heldOutShare" });
  const docs: string[] = [];
  for (let i = 1; i <= ds.catalog.size; i++) docs.push(itemDocument(ds.catalog.items[i]));
  const items = docs.length;
  for (const seq of ds.train) {
    const titles = Array.from(seq, (i) => ds.catalog.items[i].title);
    for (let s = 0; s < titles.length; s += stride) {
      const part = titles.slice(s, s + window);
      if (part.length >= 2) docs.push(historyDocument(part));
      if (s + window >= titles.length) break;
    }
  }
  if (docs.length === 0) throw new ReclmError("RECLM_ERR_BAD_DATASET", `dataset "${ds.name}" gives no text to train a language model on`, { field: "train" });
  const rng = new Rng(options.seed ?? 0);
  const train: string[] = [];
  const heldOut: string[] = [];
  for (const d of docs) (rng.next() < share ? heldOut : train).push(d);
  if (share > 0 && heldOut.length === 0) heldOut.push(train.pop()!);
  return { train, heldOut, counts: { items, histories: docs.length - items } };
}
