/**
 * Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors):
 *   [u64 little-endian N][N bytes JSON header, space-padded to 8][raw little-endian tensor data]
 * Header: { "<tensor name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ...,
 *           "__metadata__": { "format": "reclm-checkpoint", "version": "1", "reclm": "<JSON string>" } }
 * Tensors: "param/<name>" for every parameter; with an optimizer also "adam.m/<name>", "adam.v/<name>" per
 * trainable parameter. The "reclm" JSON holds { meta, optimizer: { step, lr, ... }, rngs: { name: [4 x u32] } }.
 * Written atomically (temp file in the same directory, then rename).
 */

import { existsSync, readFileSync } from "node:fs";
import { ReclmError } from "../errors.ts";
import { writeFileAtomic } from "../io.ts";
import { isRngState, type Rng } from "../rng.ts";
import type { AdamW } from "./optim.ts";
import type { ParamStore } from "./params.ts";

export interface CheckpointState {
  store: ParamStore;
  optimizer?: AdamW;
  /** Random streams to restore exactly (dropout, shuffling, negative sampling...). */
  rngs?: Record<string, Rng>;
  /**
   * Which parameters the file holds: "all" (default), or "trainable" only — a LoRA run over a frozen base read from
   * a GGUF file saves its adapters, not hundreds of MB of weights the base file already has.
   */
  params?: "all" | "trainable";
}

function savedParams(state: CheckpointState) {
  const all = state.store.list();
  return state.params === "trainable" ? all.filter((p) => p.trainable) : all;
}

/** Free-form JSON metadata: config, epoch, best metric... */
export type CheckpointMeta = Record<string, unknown>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function saveCheckpoint(path: string, state: CheckpointState, meta: CheckpointMeta = {}): void {
  const { store, optimizer } = state;
  const tensors: { name: string; shape: readonly number[]; data: Float32Array }[] = [];
  for (const p of savedParams(state)) tensors.push({ name: `param/${p.name}`, shape: p.shape, data: store.read(p) });
  if (optimizer) {
    for (const p of optimizer.moments.keys()) {
      tensors.push({ name: `adam.m/${p.name}`, shape: p.shape, data: optimizer.readMoment(p, "m") });
      tensors.push({ name: `adam.v/${p.name}`, shape: p.shape, data: optimizer.readMoment(p, "v") });
    }
  }
  const reclm = {
    meta,
    optimizer: optimizer && {
      step: optimizer.step,
      lr: optimizer.lr,
      beta1: optimizer.beta1,
      beta2: optimizer.beta2,
      eps: optimizer.eps,
      weightDecay: optimizer.weightDecay,
      clipNorm: optimizer.clipNorm ?? null,
    },
    rngs: Object.fromEntries(Object.entries(state.rngs ?? {}).map(([k, r]) => [k, r.getState()])),
  };
  const header: Record<string, unknown> = { __metadata__: { format: "reclm-checkpoint", version: "1", reclm: JSON.stringify(reclm) } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: "F32", shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));

  writeFileAtomic(path, [head, json, ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/**
 * Restores parameters, optimizer state and rng streams in place and returns the metadata. Every parameter of the
 * store (only the trainable ones with `params: "trainable"`; with an optimizer, every moment) must be present with the
 * same shape; extra tensors are an error too.
 */
export function loadCheckpoint(path: string, state: CheckpointState): CheckpointMeta {
  const bad = (msg: string, field?: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", msg, { file: path, field });
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "checkpoint not found", { file: path });
  const buf = readFileSync(path);
  if (buf.length < 8) throw bad("file too short for a safetensors header");
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw bad(`header length ${n} does not fit in ${buf.length} bytes`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw bad(`header is not JSON: ${(e as Error).message}`);
  }
  const metaBlock = header.__metadata__ as Record<string, string> | undefined;
  if (!metaBlock || metaBlock.format !== "reclm-checkpoint") throw bad('not a reclm checkpoint (__metadata__.format != "reclm-checkpoint")', "__metadata__");
  let reclm: { meta: CheckpointMeta; optimizer?: { step: number; lr: number } | null; rngs?: Record<string, number[]> };
  try {
    reclm = JSON.parse(metaBlock.reclm);
  } catch {
    throw bad("__metadata__.reclm is not JSON", "__metadata__");
  }
  if (typeof reclm !== "object" || reclm === null) throw bad("__metadata__.reclm is not a JSON object", "__metadata__");
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const take = (name: string, shape: readonly number[]): Float32Array => {
    const e = header[name] as HeaderEntry | undefined;
    if (!e) throw bad(`tensor "${name}" is missing`, name);
    if (e.dtype !== "F32") throw bad(`tensor "${name}" has dtype ${e.dtype}, expected F32`, name);
    if (!Array.isArray(e.shape) || e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw bad(`tensor "${name}" has shape [${e.shape}], the model expects [${shape.join(", ")}]`, name);
    }
    const [b, f] = e.data_offsets ?? [];
    const numel = shape.reduce((a, c) => a * c, 1);
    if (!Number.isInteger(b) || !Number.isInteger(f) || f - b !== numel * 4 || b < 0 || f > dataLen) {
      throw bad(`tensor "${name}" has bad data_offsets [${e.data_offsets}]`, name);
    }
    const out = new Float32Array(numel);
    new Uint8Array(out.buffer).set(buf.subarray(dataStart + b, dataStart + f));
    return out;
  };
  const expected = new Set<string>();
  const writes: (() => void)[] = [];
  for (const p of savedParams(state)) {
    const name = `param/${p.name}`;
    expected.add(name);
    const d = take(name, p.shape);
    writes.push(() => state.store.write(p, d));
  }
  const opt = state.optimizer;
  if (opt) {
    if (!reclm.optimizer) throw bad("checkpoint has no optimizer state", "__metadata__");
    for (const p of opt.moments.keys()) {
      for (const which of ["m", "v"] as const) {
        const name = `adam.${which}/${p.name}`;
        expected.add(name);
        const d = take(name, p.shape);
        writes.push(() => opt.writeMoment(p, which, d));
      }
    }
  }
  for (const k of Object.keys(header)) {
    if (k !== "__metadata__" && !expected.has(k) && !(k.startsWith("adam.") && !opt)) {
      throw bad(`tensor "${k}" is not part of this model`, k);
    }
  }
  const rngStates: [Rng, number[]][] = [];
  for (const [k, r] of Object.entries(state.rngs ?? {})) {
    const s: unknown = reclm.rngs?.[k];
    if (!s) throw bad(`rng state "${k}" is missing`, `rngs.${k}`);
    // Checked here rather than left to Rng.setState, which throws only after the tensors were written. All zeros is
    // xoshiro's fixed point: the stream would be zeros forever.
    if (!isRngState(s) || s.every((x) => x === 0)) {
      throw bad(`rng state "${k}" must be four uint32 values, not all zero; got ${JSON.stringify(s)}`, `rngs.${k}`);
    }
    rngStates.push([r, s]);
  }
  let optState: { step: number; lr: number } | undefined;
  if (opt && reclm.optimizer) {
    // A NaN step or lr would not fail anywhere: it would turn every weight into NaN on the next run.
    const { step, lr } = reclm.optimizer as { step: unknown; lr: unknown };
    if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0) throw bad(`optimizer step must be an integer >= 0, got ${JSON.stringify(step)}`, "optimizer.step");
    if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) throw bad(`optimizer lr must be a finite number >= 0, got ${JSON.stringify(lr)}`, "optimizer.lr");
    optState = { step, lr };
  }
  // Validate everything before touching any state, so a bad file leaves the model as it was.
  for (const w of writes) w();
  if (opt && optState) {
    opt.step = optState.step;
    opt.lr = optState.lr;
  }
  for (const [r, s] of rngStates) r.setState(s);
  return reclm.meta ?? {};
}
