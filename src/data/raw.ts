/**
 * The common raw form every loader produces before a protocol runs: an interaction log in file order
 * (user, item, timestamp, optional rating, with raw ids interned) plus item metadata keyed by raw item id.
 * Protocols read only this, so a new format needs a loader and nothing else.
 */
import type { UntitledItems } from "../contracts.ts";

/** Metadata for one raw item. A missing or empty title means "no title" (LlamaRec's protocol drops such items). */
export interface RawItemMeta {
  title?: string;
  text?: string;
  attributes?: Record<string, string | string[]>;
}

/** Interactions in file order. `user[k]`/`item[k]` index `userIds`/`itemIds`. */
export interface RawLog {
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
  readonly user: Int32Array;
  readonly item: Int32Array;
  /** Unix seconds (fractions allowed); the protocol orders equal times (protocols/README.md, "Tie rank"). */
  readonly time: Float64Array;
  readonly rating?: Float32Array;
  readonly length: number;
}

export interface RawData {
  log: RawLog;
  items: Map<string, RawItemMeta>;
  /** Set by a loader whose items file leaves some interaction items untitled; carried onto the dataset. */
  untitled?: UntitledItems;
}

/** Grows typed columns and interns raw ids; ids keep first-appearance codes, canonical order comes later. */
export class RawLogBuilder {
  private readonly userCode = new Map<string, number>();
  private readonly itemCode = new Map<string, number>();
  private readonly userIds: string[] = [];
  private readonly itemIds: string[] = [];
  private user = new Int32Array(1024);
  private item = new Int32Array(1024);
  private time = new Float64Array(1024);
  private rating: Float32Array | undefined;
  private n = 0;

  constructor(withRatings = false) {
    if (withRatings) this.rating = new Float32Array(1024);
  }

  push(user: string, item: string, time: number, rating?: number): void {
    if (this.n === this.user.length) this.grow();
    this.user[this.n] = intern(this.userCode, this.userIds, user);
    this.item[this.n] = intern(this.itemCode, this.itemIds, item);
    this.time[this.n] = time;
    if (this.rating) this.rating[this.n] = rating ?? Number.NaN;
    this.n++;
  }

  get length(): number {
    return this.n;
  }

  build(): RawLog {
    return {
      userIds: this.userIds,
      itemIds: this.itemIds,
      user: this.user.slice(0, this.n),
      item: this.item.slice(0, this.n),
      time: this.time.slice(0, this.n),
      rating: this.rating?.slice(0, this.n),
      length: this.n,
    };
  }

  private grow(): void {
    const cap = this.user.length * 2;
    const u = new Int32Array(cap);
    u.set(this.user);
    this.user = u;
    const i = new Int32Array(cap);
    i.set(this.item);
    this.item = i;
    const t = new Float64Array(cap);
    t.set(this.time);
    this.time = t;
    if (this.rating) {
      const r = new Float32Array(cap);
      r.set(this.rating);
      this.rating = r;
    }
  }
}

function intern(map: Map<string, number>, list: string[], key: string): number {
  let code = map.get(key);
  if (code === undefined) {
    code = list.length;
    map.set(key, code);
    list.push(key);
  }
  return code;
}
