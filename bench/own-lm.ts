/**
 * reclm's own language models (src/llm/own-lm): pretraining on a dataset's training text, held-out perplexity,
 * throughput, size and wall time.
 *
 *   npx tsx bench/own-lm.ts --run embedded:tiny:/work/runs/lm-embedded-tiny --run ml-latest-small:small:/work/runs/lm-mls-small [--threads 1] [--resume] [--throughput-steps 8]
 *
 * Each --run pretrains (or, with --resume, finishes a run dir it already holds; a finished one only re-exports) and
 * becomes one row of bench/results/own-lm.json (protocol lm-pretrain). Seconds are the training wall time summed
 * over resumes, as the run dir's checkpoint records it; tokens/s are the run's own over its optimizer steps. A run
 * whose checkpoints predate that record has no rate of its own: with --throughput-steps N, the row's tokens/s come
 * from N steps of the same pretraining started afresh in a temporary dir in this same command (said in its notes).
 */
import { parseArgs } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { pretrainLm, type LmSize } from "../src/llm/own-lm/pretrain.ts";
import { sharedDir } from "../src/paths.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: a } = parseArgs({ options: { run: { type: "string", multiple: true }, threads: { type: "string" }, resume: { type: "boolean" }, "throughput-steps": { type: "string" } } });
if (!a.run?.length) throw new Error("usage: bench/own-lm.ts --run <dataset>:<tiny|small>:<run dir> [--run ...] [--threads n] [--resume]");
const rows: BenchRow[] = [];
const inputs: string[] = [];
for (const spec of a.run) {
  const [dataset, size, outDir] = spec.split(":");
  const ds = await loadDataset(dataset);
  let last = 0;
  const rep = await pretrainLm({
    ds,
    size: size as LmSize,
    outDir,
    resume: a.resume,
    threads: a.threads ? Number(a.threads) : undefined,
    onProgress: (p) => {
      if (performance.now() - last > 30_000) {
        last = performance.now();
        process.stderr.write(`${p.stage} ${p.done}/${p.total} ${JSON.stringify(p.info ?? {})}\n`);
      }
    },
  });
  let tokensPerSecond = rep.tokensPerSecond;
  let rateNote = "tokens_per_s = all input tokens/s over the run's optimizer steps";
  if (tokensPerSecond === undefined && a["throughput-steps"]) {
    const steps = Number(a["throughput-steps"]);
    const tmp = mkdtempSync(join(tmpdir(), "own-lm-rate-"));
    try {
      const fresh = await pretrainLm({ ds, size: size as LmSize, outDir: tmp, maxSteps: steps, threads: a.threads ? Number(a.threads) : undefined });
      tokensPerSecond = fresh.tokensPerSecond;
      rateNote = `tokens_per_s = ${steps} steps of the same pretraining started afresh in this command (the run's checkpoints predate reclm's throughput record)`;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  rows.push({
    method: `reclm-lm-${size}`,
    dataset: ds.name,
    protocol: "lm-pretrain",
    metrics: { perplexity: rep.heldOutPerplexity, ...(tokensPerSecond ? { tokens_per_s: tokensPerSecond } : {}), parameters: rep.parameters, seconds: rep.seconds, train_tokens: rep.corpus.trainTokens },
    headline: true,
    model: rep.model,
    notes:
      `held-out perplexity of the best step (${rep.best.step} of ${rep.steps}; step 0: ${rep.validations[0].metrics.perplexity.toFixed(1)}) on ${rep.corpus.heldOutTokens} held-out tokens ` +
      `(${rep.corpus.heldOutDocuments} documents of the training split); vocabulary ${rep.config.vocabSize}, dim ${rep.config.dim}, ${rep.config.layers} layers, ` +
      `${rep.threads} threads; seconds = training wall time over all resumes; ${tokensPerSecond ? rateNote : "tokens/s not recorded"}`,
  });
  const def = findDataset(ds.name);
  const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
  if (def) inputs.push(...def.inputFiles(ds.protocol, { dataDir: folder }));
  inputs.push(rep.model.file);
}
writeBenchResult({ benchmark: "own-lm", command: `npx tsx bench/own-lm.ts ${a.run.map((r) => `--run ${r}`).join(" ")}${a.threads ? ` --threads ${a.threads}` : ""}${a.resume ? " --resume" : ""}${a["throughput-steps"] ? ` --throughput-steps ${a["throughput-steps"]}` : ""}`, inputs, rows });
