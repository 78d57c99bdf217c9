/**
 * Forward parity of reclm's LRURec (real/imag tensors, parallel scan in ggml) with the PyTorch reference
 * (bench/torch/models.py: native complex Linear layers, the authors' scan), same weights, same left-padded ids.
 *
 *   npx tsx bench/lrurec-parity.ts        (needs Debian's /usr/bin/python3 with torch: bench/torch/setup.sh)
 *
 * Weights are drawn N(0, 0.3²) (params_log: the ring init) so that every layer, not just the LayerNorms, moves the
 * output. Prints the max |Δscore| over all positions against torch with exact-erf GELU (what the papers run) and with
 * tanh GELU (what reclm runs), and fails (exit 1) if the tanh comparison exceeds 1e-3: the only intended difference
 * is the GELU approximation.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile, Engine, ParamStore } from "../src/engine/index.ts";
import { LRURec } from "../src/models/lrurec.ts";
import { Rng } from "../src/rng.ts";

const here = dirname(fileURLToPath(import.meta.url));
const nItems = 50, hidden = 16, blocks = 2, L = 20, B = 4;
const config = { ...LRURec.defaults, hidden, blocks, maxLen: L, dropout: 0, lruDropout: 0 };
const ctx = { nItems, windowLen: L };
const engine = Engine.create({ threads: 1 });
const store = new ParamStore(engine);
const params = LRURec.declare(store, ctx, config);
const rng = new Rng(2024);
store.initialize(rng);
LRURec.afterInit!(store, params, config, rng);
const weights: Record<string, number[]> = {};
for (const p of store.list()) {
  if (!p.name.endsWith("params_log")) store.write(p, Float32Array.from({ length: p.numel }, () => 0.3 * rng.normal()));
  weights[p.name] = Array.from(store.read(p));
}

// Histories of different lengths (one full window, one of a single item) to exercise the padding-aware carry.
const lengths = [20, 13, 5, 1];
const ids = new Int32Array(B * L);
const mask = new Float32Array(B * L);
lengths.forEach((n, r) => {
  for (let j = 0; j < n; j++) {
    ids[r * L + L - n + j] = 1 + rng.int(0, nItems);
    mask[r * L + L - n + j] = 1;
  }
});
const g = compile(engine, {
  mode: "eval",
  params: store,
  build: (b) => {
    const x = { ids: b.input("ids", [B, L], "i32"), mask: b.input("mask", [B, L]), positions: b.input("positions", [B, L], "i32") };
    const h = LRURec.encode(b, params, x, ctx, config); // [B, L, D]
    return { outputs: { scores: LRURec.scores(b, params, b.reshape(h, [B * L, hidden]), ctx, config) } };
  },
});
g.run({ ids, mask, positions: new Int32Array(B * L) });
const ours = g.read("scores");
g.dispose();
store.dispose();
engine.dispose();

const dir = mkdtempSync(join(tmpdir(), "lrurec-parity-"));
try {
  const file = join(dir, "case.json");
  writeFileSync(file, JSON.stringify({ config: { hidden, nItems, blocks }, batch: B, window: L, ids: Array.from(ids), weights }));
  const out = execFileSync("/usr/bin/python3", ["-W", "ignore", join(here, "lrurec-parity.py"), file], { encoding: "utf8" });
  const ref = JSON.parse(out.trim().split("\n").pop()!) as { torch: string; erf: number[]; tanh: number[] };
  const maxDiff = (a: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(ours[i] - a[i]));
    return m;
  };
  let scale = 0;
  for (const v of ref.erf) scale = Math.max(scale, Math.abs(v));
  const dErf = maxDiff(ref.erf);
  const dTanh = maxDiff(ref.tanh);
  process.stdout.write(
    `torch ${ref.torch}; ${ours.length} scores (max |score| ${scale.toFixed(3)}); max |reclm − torch(exact GELU)| = ${dErf.toExponential(2)}; ` +
      `max |reclm − torch(tanh GELU)| = ${dTanh.toExponential(2)}\n`,
  );
  if (!(dTanh < 1e-3)) {
    process.stdout.write("PARITY FAILED\n");
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
