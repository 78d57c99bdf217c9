import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256File } from "../../../src/io.ts";
import { pretrainLmInChild, type PretrainJobInput } from "../../../src/llm/own-lm/pretrain-job.ts";
import { LM_FILE } from "../../../src/llm/own-lm/pretrain.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-kill-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A small full-training run (all parameters and AdamW moments checkpointed) with a checkpoint every 4 steps.
const config = { vocabSize: 400, dim: 32, layers: 1, heads: 2, ffnDim: 64, blockSize: 32, batchSize: 8, microBatch: 4, epochs: 1, validateEvery: 4, warmupSteps: 2, lr: 3e-3, minLr: 3e-4 };
const job = (outDir: string, extra: Partial<PretrainJobInput> = {}): PretrainJobInput => ({ dataset: "embedded", size: "tiny", outDir, config, maxSteps: 12, threads: 1, ...extra });

describe("LLM training killed with SIGKILL in the middle of a checkpoint write", () => {
  it("resumes from the last complete checkpoint and ends with the parameters of an uninterrupted run", async () => {
    const straight = join(dir, "straight");
    await pretrainLmInChild(job(straight));

    const cut = join(dir, "cut");
    // The 3rd checkpoint write (after step 8) is killed half-way.
    await expect(pretrainLmInChild(job(cut), { env: { RECLM_TEST_CRASH_WRITE: "checkpoint.safetensors:3" } })).rejects.toMatchObject({ code: "RECLM_ERR_ENGINE_CRASH" });
    const left = readdirSync(cut);
    expect(left.some((f) => /^\.checkpoint\.safetensors\..*\.tmp$/.test(f))).toBe(true); // the half-written temp file
    expect(left).toContain("checkpoint.safetensors"); // the complete one of step 4
    expect(existsSync(join(cut, LM_FILE))).toBe(false);

    const resumed = await pretrainLmInChild(job(cut, { resume: true, config: undefined }));
    expect(resumed.steps).toBe(12);
    expect(readdirSync(cut).some((f) => f.endsWith(".tmp"))).toBe(false);
    expect(resumed.validations.map((v) => v.step)).toEqual([0, 4, 8, 12]);
    expect(sha256File(join(cut, LM_FILE))).toBe(sha256File(join(straight, LM_FILE)));
  }, 180_000);
});
