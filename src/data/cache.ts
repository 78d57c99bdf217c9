/**
 * Prepared-dataset cache: `<dir>/<name>-<protocol>-<key>.rds`, where key hashes the input files (path, size,
 * mtime) and the options that change the result. Layout (little-endian):
 *   "RECLMDS1" | u32 headerBytes | header JSON (UTF-8, space-padded to 4 bytes) | Int32 blob | sha256(all before)
 * The blob is [train lengths (users)] [train items...] [val (users)] [test (users)]. The trailing digest makes a
 * truncated or corrupted file detectable; such a file is ignored (and rebuilt by the caller), never half-read.
 * Writes go to a temp file in the same directory, then rename, so readers never see a partial file.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Catalog, SequenceDataset, UntitledItems } from "../contracts.ts";
import { writeFileAtomic } from "../io.ts";
import { ReclmError } from "../errors.ts";

const MAGIC = "RECLMDS1";
/** Bump when a protocol or the layout changes, so old cache files stop matching (3: untitledItems is recorded). */
export const CACHE_VERSION = 3;

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
  mkdirSync(dir, { recursive: true });
  const n = ds.users.length;
  let trainTotal = 0;
  for (const t of ds.train) trainTotal += t.length;
  const blob = new Int32Array(n + trainTotal + 2 * n);
  let o = 0;
  for (const t of ds.train) blob[o++] = t.length;
  for (const t of ds.train) {
    blob.set(t, o);
    o += t.length;
  }
  blob.set(ds.val, o);
  blob.set(ds.test, o + n);

  const header: Header = {
    version: CACHE_VERSION,
    name: ds.name,
    protocol: ds.protocol,
    users: [...ds.users],
    catalog: { size: ds.catalog.size, items: ds.catalog.items },
    blobInts: blob.length,
    ...(ds.untitledItems ? { untitledItems: ds.untitledItems } : {}),
  };
  let headerBuf = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (4 - (headerBuf.length % 4)) % 4;
  if (pad) headerBuf = Buffer.concat([headerBuf, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBuf.length);
  const blobBuf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (!isLittleEndian()) throw new ReclmError("RECLM_ERR_INTERNAL", "the dataset cache supports little-endian hosts only");
  const body = Buffer.concat([Buffer.from(MAGIC, "ascii"), len, headerBuf, blobBuf]);
  const digest = createHash("sha256").update(body).digest();

  writeFileAtomic(path, [body, digest]);
}

/** The cached dataset, or undefined when the file is absent, truncated, corrupted or from another version. */
export function readCachedDataset(path: string): SequenceDataset | undefined {
  if (!existsSync(path)) return undefined;
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.length < 8 + 4 + 32 || buf.toString("ascii", 0, 8) !== MAGIC) return undefined;
  const body = buf.subarray(0, buf.length - 32);
  const digest = createHash("sha256").update(body).digest();
  if (!digest.equals(buf.subarray(buf.length - 32))) return undefined;
  const headerBytes = buf.readUInt32LE(8);
  if (12 + headerBytes > body.length) return undefined;
  let header: Header;
  try {
    header = JSON.parse(buf.toString("utf8", 12, 12 + headerBytes)) as Header;
  } catch {
    return undefined;
  }
  if (header.version !== CACHE_VERSION) return undefined;
  const blobStart = 12 + headerBytes;
  if (body.length - blobStart !== header.blobInts * 4) return undefined;
  // Copy into a fresh, aligned buffer: the Buffer pool's byteOffset need not be a multiple of 4.
  const blob = new Int32Array(header.blobInts);
  new Uint8Array(blob.buffer).set(body.subarray(blobStart));

  const n = header.users.length;
  const train: Int32Array[] = [];
  let o = n;
  for (let u = 0; u < n; u++) {
    const len = blob[u];
    if (len < 0 || o + len > blob.length) return undefined;
    train.push(blob.subarray(o, o + len));
    o += len;
  }
  if (o + 2 * n !== blob.length) return undefined;
  return {
    name: header.name,
    protocol: header.protocol,
    catalog: header.catalog,
    users: header.users,
    train,
    val: blob.subarray(o, o + n),
    test: blob.subarray(o + n, o + 2 * n),
    ...(header.untitledItems ? { untitledItems: header.untitledItems } : {}),
  };
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
