import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TextGenerator } from "../../src/llm/generate.ts";
import { llamaRuntime, loadLlamaCppModel, modelFile, resolveThreads, vocabularySize } from "../../src/llm/runtime.ts";
import { NextTokenScorer } from "../../src/llm/scorer.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-runtime-"));
const file = join(dir, "tiny.gguf");
const config = writeTinyLlamaGguf(file, { seed: 2 });
const envThreads = process.env.RECLM_THREADS;
afterEach(() => {
  if (envThreads === undefined) delete process.env.RECLM_THREADS;
  else process.env.RECLM_THREADS = envThreads;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("llama.cpp runtime: threads and GPU on every entry point", () => {
  it("a context takes its own thread count, else the model's load option, else $RECLM_THREADS, else the cores", async () => {
    const llama = await llamaRuntime(false);
    delete process.env.RECLM_THREADS;
    expect(resolveThreads(llama)).toBe(llama.cpuMathCores);
    // node-llama-cpp's own CPU cap is max(4, cores); reclm caps all contexts together at the cores
    expect(llama.maxThreads).toBe(llama.cpuMathCores);
    process.env.RECLM_THREADS = "1";
    expect(resolveThreads(llama)).toBe(1);
    expect(resolveThreads(llama, 3)).toBe(3);
    expect(llama.maxThreads).toBeGreaterThanOrEqual(3); // asked for more than the cap: the cap rises, nothing is cut
    process.env.RECLM_THREADS = "two";
    expect(() => resolveThreads(llama)).toThrow(/RECLM_THREADS must be a positive integer, got two/);
    expect(() => resolveThreads(llama, 0)).toThrow(/threads must be a positive integer, got 0/);
    delete process.env.RECLM_THREADS;

    const model = await loadLlamaCppModel(file, { threads: 1 });
    try {
      expect(modelFile(model)).toBe(file);
      expect(vocabularySize(model)).toBe(config.vocabSize);
      const inherited = await NextTokenScorer.create(model, { parallel: 1, contextSize: 16 });
      const own = await TextGenerator.create(model, { threads: 2, contextSize: 16, maxBeamWidth: 1 });
      expect(inherited.threads).toBe(1);
      expect(own.threads).toBe(2);
      // a context runs where its model was loaded: another GPU setting is refused, not ignored
      await expect(NextTokenScorer.create(model, { gpu: "auto", contextSize: 16 })).rejects.toThrow(/gpu auto for a context of a model loaded with gpu false/);
      await Promise.all([inherited.dispose(), own.dispose()]);
    } finally {
      await model.dispose();
    }
  }, 60_000);

  it('gpu "auto" loads on this machine without building or downloading anything (a CPU here); bad values are refused', async () => {
    const model = await loadLlamaCppModel(file, { threads: 1, gpu: "auto" });
    try {
      const scorer = await NextTokenScorer.create(model, { parallel: 1, contextSize: 16 });
      const [row] = await scorer.score([[1, 20, 30]], [10]);
      expect(Number.isFinite(row[0])).toBe(true);
      await scorer.dispose();
    } finally {
      await model.dispose();
    }
    expect(() => llamaRuntime("cuda" as never)).toThrow(/gpu must be "auto" or false/);
  }, 60_000);

  it("refuses a missing file and a file that is not a GGUF model, naming it", async () => {
    await expect(loadLlamaCppModel(join(dir, "absent.gguf"))).rejects.toMatchObject({ code: "RECLM_ERR_FILE_NOT_FOUND", message: expect.stringMatching(/absent\.gguf/) });
    const junk = join(dir, "junk.gguf");
    writeFileSync(junk, "not a model");
    await expect(loadLlamaCppModel(junk, { threads: 1 })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CHECKPOINT", message: expect.stringMatching(/junk\.gguf/) });
    await expect(loadLlamaCppModel(file, { threads: -1 })).rejects.toThrow(/threads must be a positive integer/);
  }, 60_000);
});
