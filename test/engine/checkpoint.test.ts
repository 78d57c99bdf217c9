import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdamW, Engine, ParamStore, loadCheckpoint, saveCheckpoint } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-checkpoint-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function model(seed: number) {
  const store = new ParamStore(engine);
  store.add("emb", [5, 3]);
  store.add("b", [3], { init: { kind: "normal", std: 1 } });
  store.initialize(new Rng(seed));
  const opt = new AdamW(store, { lr: 0.01 });
  const rng = new Rng(seed + 1);
  return { store, opt, rng, dispose: () => (opt.dispose(), store.dispose()) };
}

/** Saves model(1) to `name`, then rewrites the "reclm" metadata JSON with `edit`. */
function corrupted(name: string, edit: (reclm: { optimizer: Record<string, unknown>; rngs: Record<string, unknown> }) => void): string {
  const m = model(1);
  const path = join(dir, name);
  saveCheckpoint(path, { store: m.store, optimizer: m.opt, rngs: { dropout: m.rng } });
  m.dispose();
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + n).toString());
  const reclm = JSON.parse(h.__metadata__.reclm);
  edit(reclm);
  // JSON has no NaN: a NaN step/lr reaches the file as null, as it would from any JSON writer.
  h.__metadata__.reclm = JSON.stringify(reclm);
  let json = JSON.stringify(h);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([head, Buffer.from(json), buf.subarray(8 + n)]));
  return path;
}

describe("loadCheckpoint validation", () => {
  const cases: [string, string, (r: { optimizer: Record<string, unknown>; rngs: Record<string, unknown> }) => void][] = [
    ["an rng state of 3 words", "rngs.dropout", (r) => void (r.rngs.dropout = [1, 2, 3])],
    ["an rng state above 2^32", "rngs.dropout", (r) => void (r.rngs.dropout = [1, 2, 3, 2 ** 32])],
    ["an rng state of non-integers", "rngs.dropout", (r) => void (r.rngs.dropout = [1, 2.5, 3, 4])],
    ["an all-zero rng state", "rngs.dropout", (r) => void (r.rngs.dropout = [0, 0, 0, 0])],
    ["a NaN step", "optimizer.step", (r) => void (r.optimizer.step = NaN)],
    ["a missing step", "optimizer.step", (r) => void delete r.optimizer.step],
    ["a fractional step", "optimizer.step", (r) => void (r.optimizer.step = 1.5)],
    ["a negative step", "optimizer.step", (r) => void (r.optimizer.step = -1)],
    ["a NaN lr", "optimizer.lr", (r) => void (r.optimizer.lr = NaN)],
    ["a string lr", "optimizer.lr", (r) => void (r.optimizer.lr = "0.1")],
    ["a negative lr", "optimizer.lr", (r) => void (r.optimizer.lr = -0.1)],
  ];
  for (const [what, field, edit] of cases) {
    it(`rejects ${what}, naming the file and field, before writing anything`, () => {
      const path = corrupted(`${field}-${what.replace(/\W+/g, "_")}.safetensors`, edit);
      const m = model(2);
      m.opt.step = 7;
      m.opt.lr = 0.5;
      const before = m.store.list().map((p) => m.store.read(p));
      const moments = m.opt.readMoment(m.store.get("emb"), "m");
      const rngState = m.rng.getState();
      expect(() => loadCheckpoint(path, { store: m.store, optimizer: m.opt, rngs: { dropout: m.rng } })).toThrowError(
        expect.objectContaining({ code: "RECLM_ERR_BAD_CHECKPOINT", location: { file: path, field }, message: expect.stringContaining(path) }),
      );
      m.store.list().forEach((p, i) => expect(m.store.read(p)).toEqual(before[i]));
      expect(m.opt.readMoment(m.store.get("emb"), "m")).toEqual(moments);
      expect([m.opt.step, m.opt.lr]).toEqual([7, 0.5]);
      expect(m.rng.getState()).toEqual(rngState);
      m.dispose();
    });
  }

  it("still loads a valid checkpoint", () => {
    const path = corrupted("valid.safetensors", () => {});
    const m = model(2);
    loadCheckpoint(path, { store: m.store, optimizer: m.opt, rngs: { dropout: m.rng } });
    const ref = model(1);
    for (const p of m.store.list()) expect(m.store.read(p)).toEqual(ref.store.read(p.name));
    expect(m.rng.getState()).toEqual(ref.rng.getState());
    expect([m.opt.step, m.opt.lr]).toEqual([0, 0.01]);
    m.dispose();
    ref.dispose();
  });
});
