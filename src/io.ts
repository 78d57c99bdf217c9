import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The one way reclm writes a file that something reads back (prepared datasets, checkpoints, reports, results):
 * a hidden temp file in the same directory, fsync, then rename over the target. A reader sees the old file or the
 * whole new one, never half of one, even if the process is killed mid-write. Returns the absolute path.
 */
export function writeFileAtomic(path: string, parts: string | Uint8Array | readonly (string | Uint8Array)[]): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  const tmp = join(dirname(full), `.${basename(full)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const chunks = typeof parts === "string" || parts instanceof Uint8Array ? [parts] : parts;
  let fd: number | undefined = openSync(tmp, "w");
  try {
    crashIfAsked(full, fd, chunks);
    for (const c of chunks) writeAll(fd, typeof c === "string" ? Buffer.from(c, "utf8") : c);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, full);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* never created, or already renamed */
    }
    throw e;
  }
  return full;
}

/**
 * writeFileAtomic for a file a native library writes itself (an ANN index): `write(tmp)` fills a temp file in the same
 * directory, which is then fsynced and renamed over `path`. A failed write leaves the old file and no temp file.
 */
export function writeFileAtomicWith(path: string, write: (tmpPath: string) => void): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  const tmp = join(dirname(full), `.${basename(full)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    write(tmp);
    const fd = openSync(tmp, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, full);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created, or already renamed */
    }
    throw e;
  }
  return full;
}

/**
 * Fault injection for the crash tests (test/llm/train/kill.test.ts): RECLM_TEST_CRASH_WRITE="<file suffix>:<n>" makes
 * the n-th atomic write of a file ending in that suffix write half of its first chunk to the temp file and then
 * SIGKILL its own process, i.e. a real kill -9 in the middle of the write. Unset, this costs one env lookup.
 */
const crashSpec = /^(.+):(\d+)$/.exec(process.env.RECLM_TEST_CRASH_WRITE ?? "");
let crashCount = 0;
function crashIfAsked(path: string, fd: number, chunks: readonly (string | Uint8Array)[]): void {
  if (!crashSpec || !path.endsWith(crashSpec[1]) || ++crashCount !== Number(crashSpec[2])) return;
  const first = typeof chunks[0] === "string" ? Buffer.from(chunks[0], "utf8") : (chunks[0] ?? new Uint8Array(0));
  writeAll(fd, first.subarray(0, Math.floor(first.byteLength / 2)));
  fsyncSync(fd);
  process.kill(process.pid, "SIGKILL");
}

/** JSON, pretty-printed with a trailing newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown): string {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
}

/** sha256 of a file's bytes, hex, read in chunks (model files are hundreds of MB). */
export function sha256File(path: string): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}
