/**
 * Prepared-dataset cache: `<dir>/<name>-<protocol>-<key>.rds`, where key hashes the input files (path, size,
 * mtime) and the options that change the result. Layout (little-endian):
 *   "RECLMDS2" | u32 headerBytes | header JSON (UTF-8, space-padded to 4 bytes) | Int32 blob | sha256(all before)
 * The blob is the packed split (packed.ts): [offsets (users + 1)] [every user's items, val and test last]. The
 * trailing digest makes a truncated or corrupted file detectable; such a file is ignored (and rebuilt by the caller),
 * never half-read. Written from the dataset's own arrays (no copy of a packed split) and read straight into one
 * Int32Array, so a 50M-interaction split is never held twice. Writes go to a temp file in the same directory, then
 * rename, so readers never see a partial file.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Catalog, SequenceDataset, UntitledItems } from "../contracts.ts";
import { writeFileAtomic } from "../io.ts";
import { ReclmError } from "../errors.ts";
import { datasetFromPacked, packedOf } from "./packed.ts";

const MAGIC = "RECLMDS2";
/** Bump when a protocol or the layout changes, so old cache files stop matching (4: the packed layout). */
export const CACHE_VERSION = 4;

interface Header {
  version: number;
  name: string;
  protocol: string;
  users: string[];
  catalog: Catalog;
  blobInts: number;
  /** Absent when every interaction item has a title (or no items file was given). */
  untitledItems?: UntitledItems;
}

/** Hash of input files (path + size + mtime) and options; missing files hash as "absent". */
export function cacheKey(files: readonly string[], options: Record<string, unknown>): string {
  const h = createHash("sha256");
  h.update(`v${CACHE_VERSION}\n`);
  for (const f of files) {
    if (existsSync(f)) {
      const st = statSync(f);
      h.update(`${f}\t${st.size}\t${st.mtimeMs}\n`);
    } else h.update(`${f}\tabsent\n`);
  }
  h.update(JSON.stringify(options, Object.keys(options).sort()));
  return h.digest("hex").slice(0, 16);
}

export function cachePath(dir: string, name: string, protocol: string, key: string): string {
  return join(dir, `${name}-${protocol}-${key}.rds`);
}

export function writeCachedDataset(path: string, dir: string, ds: SequenceDataset): void {
  if (!isLittleEndian()) throw new ReclmError("RECLM_ERR_INTERNAL", "the dataset cache supports little-endian hosts only");
  mkdirSync(dir, { recursive: true });
  const { items, offsets } = packedOf(ds);
  const header: Header = {
    version: CACHE_VERSION,
    name: ds.name,
    protocol: ds.protocol,
    users: [...ds.users],
    catalog: { size: ds.catalog.size, items: ds.catalog.items },
    blobInts: offsets.length + items.length,
    ...(ds.untitledItems ? { untitledItems: ds.untitledItems } : {}),
  };
  let headerBuf = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (4 - (headerBuf.length % 4)) % 4;
  if (pad) headerBuf = Buffer.concat([headerBuf, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBuf.length);
  const parts = [Buffer.from(MAGIC, "ascii"), len, headerBuf, bytesOf(offsets), bytesOf(items)];
  const h = createHash("sha256");
  for (const part of parts) h.update(part);
  writeFileAtomic(path, [...parts, h.digest()]);
}

function bytesOf(a: Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The cached dataset, or undefined when the file is absent, truncated, corrupted or from another version. */
export function readCachedDataset(path: string): SequenceDataset | undefined {
  if (!existsSync(path)) return undefined;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8 + 4 + 32) return undefined;
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString("ascii", 0, 8) !== MAGIC) return undefined;
    const headerBytes = head.readUInt32LE(8);
    const blobBytes = size - 12 - headerBytes - 32;
    if (blobBytes < 0 || blobBytes % 4 !== 0) return undefined;
    const headerBuf = Buffer.alloc(headerBytes);
    if (readSync(fd, headerBuf, 0, headerBytes, 12) !== headerBytes) return undefined;
    // Straight into an aligned Int32Array: no second copy of the split.
    const blob = new Int32Array(blobBytes / 4);
    const blobView = new Uint8Array(blob.buffer);
    for (let at = 0; at < blobBytes; ) {
      const n = readSync(fd, blobView, at, Math.min(blobBytes - at, 1 << 26), 12 + headerBytes + at);
      if (n <= 0) return undefined;
      at += n;
    }
    const digest = Buffer.alloc(32);
    if (readSync(fd, digest, 0, 32, size - 32) !== 32) return undefined;
    if (!createHash("sha256").update(head).update(headerBuf).update(blobView).digest().equals(digest)) return undefined;
    let header: Header;
    try {
      header = JSON.parse(headerBuf.toString("utf8")) as Header;
    } catch {
      return undefined;
    }
    if (header.version !== CACHE_VERSION || header.blobInts !== blob.length) return undefined;
    const n = header.users.length;
    if (blob.length < n + 1) return undefined;
    const offsets = blob.subarray(0, n + 1);
    const items = blob.subarray(n + 1);
    if (offsets[0] !== 0 || offsets[n] !== items.length) return undefined;
    for (let u = 0; u < n; u++) if (offsets[u + 1] - offsets[u] < 2) return undefined;
    return datasetFromPacked(
      { name: header.name, protocol: header.protocol, catalog: header.catalog, users: header.users, untitledItems: header.untitledItems },
      { items, offsets },
    );
  } finally {
    closeSync(fd);
  }
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
