/** The catalog of a prepared split: item metadata by raw id, in dense-id order, titled by the dataset's cleaner. */
import type { Catalog, ItemInfo } from "../../contracts.ts";
import type { RawItemMeta } from "../raw.ts";

export type TitleOf = (rawTitle: string | undefined, rawId: string) => string;

/** The raw title, else the raw id. */
export const rawTitleOrId: TitleOf = (t, id) => (t && t.length > 0 ? t : id);

/** `rawIds[k]` becomes dense id k + 1; items[0] is the padding placeholder. */
export function buildCatalog(rawIds: readonly string[], meta: ReadonlyMap<string, RawItemMeta>, titleOf: TitleOf = rawTitleOrId): Catalog {
  const items: ItemInfo[] = [{ rawId: "", title: "" }];
  for (const rawId of rawIds) {
    const m = meta.get(rawId);
    const info: ItemInfo = { rawId, title: titleOf(m?.title, rawId) };
    if (m?.text) info.text = m.text;
    if (m?.attributes && Object.keys(m.attributes).length > 0) info.attributes = m.attributes;
    items.push(info);
  }
  return { size: rawIds.length, items };
}
