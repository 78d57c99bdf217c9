/**
 * Resident memory of reclm's llama decoder with SmolLM2-135M's shapes (vocab 49,152, d 576, 30 layers, 9 heads over
 * 3 KV heads, FFN 1,536, tied embeddings; random weights written by reclm's GGUF writer through bench/lib/llm-shapes.ts,
 * whose padded BPE vocabulary the decoder does not read), its matrices kept in the file's type (baseWeights "file") vs dequantized to F32 ("f32"). Two files:
 * Q8_0, and Q4_K where a row is whole 256-value super-blocks (ffn_down's 1,536) with llama.cpp's fallback for Q4_K
 * elsewhere, Q5_0 (rows of 576 are not). Each load runs in a fresh process (RSS is per process): RSS before the
 * model (engine up, GGUF header read), after `store.initialize` (and a GC), and the parameter buffer's size.
 *   npx tsx bench/llm-memory.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, ParamStore } from "../src/engine/index.ts";
import type { WeightTypeChoice } from "../src/llm/gguf-model.ts";
import { declareLlamaFromGguf, llamaTensorShapes } from "../src/llm/llama.ts";
import { readGgufHeader } from "../src/llm/runtime.ts";
import { Rng } from "../src/rng.ts";
import { writeShapeGguf } from "./lib/llm-shapes.ts";
import { writeBenchResult } from "./lib/results.ts";

const SHAPE = "smollm2-135m-shape";

const MIB = 2 ** 20;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** In a child: load `file` with `baseWeights`, print {rssBefore, rssAfter, paramBytes} as JSON. */
async function child(file: string, baseWeights: "file" | "f32"): Promise<void> {
  const engine = Engine.create({ threads: 1 });
  const header = await readGgufHeader(file);
  gc();
  const rssBefore = process.memoryUsage().rss;
  const store = new ParamStore(engine);
  declareLlamaFromGguf(store, header, file, { baseWeights });
  store.initialize(new Rng(0));
  gc();
  const rssAfter = process.memoryUsage().rss;
  process.stdout.write(`${JSON.stringify({ rssBefore, rssAfter, paramBytes: store.bytes })}\n`);
  store.dispose();
  engine.dispose();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "reclm-llm-memory-"));
  try {
    const files: { label: string; file: string; weightType: WeightTypeChoice }[] = [
      { label: "q8_0", file: join(dir, "q8_0.gguf"), weightType: "q8_0" },
      { label: "q4_K", file: join(dir, "q4_k.gguf"), weightType: (_name, shape) => (shape[shape.length - 1] % 256 === 0 ? "q4_K" : "q5_0") },
    ];
    let params = 0;
    for (const f of files) {
      const config = writeShapeGguf(f.file, SHAPE, f.weightType);
      params = [...llamaTensorShapes(config).values()].reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);
    }
    const self = fileURLToPath(import.meta.url);
    const rows = [];
    for (const f of files) {
      for (const baseWeights of ["file", "f32"] as const) {
        const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", self, "--child", f.file, baseWeights], { encoding: "utf8", maxBuffer: 1 << 20 });
        const m = JSON.parse(out.trim().split("\n").pop()!) as { rssBefore: number; rssAfter: number; paramBytes: number };
        const kept = baseWeights === "file";
        rows.push({
          method: "llama-decoder",
          dataset: SHAPE,
          protocol: "memory",
          variant: { file: f.label === "q8_0" ? "q8_0" : "q4_K (q5_0 where rows are not 256-multiples)", baseWeights },
          ...(f.label === "q4_K" && kept ? { headline: true } : {}),
          metrics: {
            rss_mib: +(m.rssAfter / MIB).toFixed(1),
            rss_model_mib: +((m.rssAfter - m.rssBefore) / MIB).toFixed(1),
            param_buffer_mib: +(m.paramBytes / MIB).toFixed(1),
            file_mib: +(statSync(f.file).size / MIB).toFixed(1),
          },
          notes: `${params.toLocaleString("en-US")} parameters; ${kept ? `matrices kept as stored in the ${f.label} file` : `every matrix dequantized to F32 from the ${f.label} file`}; rss_model = RSS after initialize minus RSS before declaring (engine up, header read), both after a GC; one process per load`,
        });
      }
    }
    writeBenchResult({ benchmark: "llm-memory", command: "npx tsx bench/llm-memory.ts", inputs: [], rows });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--child");
if (at > 0) await child(process.argv[at + 1], process.argv[at + 2] as "file" | "f32");
else await main();
