/**
 * A small named-tensor file (JSON header + raw little-endian f32 blobs), written atomically (temp file + rename).
 * Stopgap until the engine's checkpoint module (src/engine/checkpoint.ts) lands; the trainer only calls
 * `writeTensorFile`/`readTensorFile`, so swapping the format later touches this file alone.
 *
 * Layout: "RECLMTF1" | u32 header bytes | header JSON | zero padding to 4 | f32 data of each tensor in header order.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { ReclmError } from "../../errors.ts";

const MAGIC = "RECLMTF1";

interface Header {
  meta: unknown;
  tensors: { name: string; length: number }[];
}

export function writeTensorFile(path: string, meta: unknown, tensors: ReadonlyMap<string, Float32Array>): void {
  const header: Header = { meta, tensors: [...tensors].map(([name, t]) => ({ name, length: t.length })) };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const pre = Buffer.alloc(12);
  pre.write(MAGIC, 0, "latin1");
  pre.writeUInt32LE(json.length, 8);
  const pad = Buffer.alloc((4 - ((12 + json.length) % 4)) % 4);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, pre);
    writeSync(fd, json);
    writeSync(fd, pad);
    for (const t of tensors.values()) writeSync(fd, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function readTensorFile(path: string): { meta: unknown; tensors: Map<string, Float32Array> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", `cannot read checkpoint: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  const bad = (why: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `not a valid reclm tensor file: ${why}`, { file: path });
  if (buf.length < 12 || buf.toString("latin1", 0, 8) !== MAGIC) throw bad("bad magic");
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw bad("truncated header");
  let header: Header;
  try {
    header = JSON.parse(buf.toString("utf8", 12, 12 + hlen)) as Header;
  } catch {
    throw bad("header is not JSON");
  }
  if (!Array.isArray(header.tensors)) throw bad("header has no tensor list");
  let off = 12 + hlen;
  off += (4 - (off % 4)) % 4;
  const tensors = new Map<string, Float32Array>();
  for (const { name, length } of header.tensors) {
    const bytes = length * 4;
    if (!Number.isInteger(length) || length < 0 || off + bytes > buf.length) throw bad(`tensor "${name}" is truncated`);
    // Copy out: the Buffer may be a slice of a shared pool with an unaligned offset.
    tensors.set(name, new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + bytes)));
    off += bytes;
  }
  if (off !== buf.length) throw bad(`${buf.length - off} trailing bytes`);
  return { meta: header.meta, tensors };
}
