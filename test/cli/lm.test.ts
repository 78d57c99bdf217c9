import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../src/engine/index.ts";
import { TextGenerator } from "../../src/llm/generate.ts";
import { declareLlamaFromGguf } from "../../src/llm/llama.ts";
import { writeLoraGguf } from "../../src/llm/lora-gguf.ts";
import { llamaCppTokenizer } from "../../src/llm/prompt.ts";
import { loadLlamaCppModel, readGgufHeader } from "../../src/llm/runtime.ts";
import { NextTokenScorer } from "../../src/llm/scorer.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { Rng } from "../../src/rng.ts";
import { spawnedCli } from "../helpers/cli.ts";

const { tmp, reclm } = spawnedCli("reclm-lm-cli-", { RECLM_THREADS: "1" });
const model = join(tmp, "tiny.gguf");
const adapter = join(tmp, "adapter.gguf");
const PROMPT = "the user watched a movie";
const TEXT = "the user watched the movie (A) next the user watched a movie (B) Answer: C";

beforeAll(async () => {
  writeTinyLlamaGguf(model, { seed: 41 });
  const engine = Engine.create({ threads: 1 });
  const store = new ParamStore(engine);
  const lm = declareLlamaFromGguf(store, await readGgufHeader(model), model, { lora: { rank: 2, alpha: 4, targets: ["q", "v"] } });
  store.initialize(new Rng(0));
  const r = new Rng(1);
  for (const { b } of lm.params.lora.values()) store.write(b, Float32Array.from({ length: b.numel }, () => 0.5 * r.normal()));
  writeLoraGguf(adapter, store, lm);
  store.dispose();
  engine.dispose();
});

/** What the library gives for the same settings, in this process. */
async function library<T>(fn: (m: Awaited<ReturnType<typeof loadLlamaCppModel>>) => Promise<T>): Promise<T> {
  const m = await loadLlamaCppModel(model, { threads: 1 });
  try {
    return await fn(m);
  } finally {
    await m.dispose();
  }
}

describe("reclm lm generate (spawned)", () => {
  it("reclm --help lists lm, and lm --help lists generate and perplexity", async () => {
    const [top, lm] = await Promise.all([reclm("--help"), reclm("lm", "--help")]);
    expect(top.stdout).toMatch(/\blm\b/);
    expect(lm.code).toBe(0);
    expect(lm.stdout).toMatch(/generate[\s\S]*perplexity/);
  });

  it("greedy prints the continuation; --beam N --json gives the library's ranked beams with tokens and log-probabilities", async () => {
    const want = await library(async (m) => {
      const tok = llamaCppTokenizer(m);
      const prompt = [tok.bos!, ...tok.tokenize(PROMPT)];
      const g = await TextGenerator.create(m, { maxBeamWidth: 3, parallel: 1, contextSize: 2048 });
      try {
        return { greedy: (await g.generate(prompt, { maxNewTokens: 6 }))[0], beams: await g.generate(prompt, { beamWidth: 3, maxNewTokens: 6 }) };
      } finally {
        await g.dispose();
      }
    });
    const greedy = await reclm("lm", "generate", "-m", model, "-p", PROMPT, "--max-tokens", "6");
    expect(greedy.stderr).toBe("");
    expect(greedy.code).toBe(0);
    expect(greedy.stdout).toBe(`${want.greedy.text}\n`);

    const beam = await reclm("lm", "generate", "-m", model, "-p", PROMPT, "--max-tokens", "6", "--beam", "3", "--json", "--threads", "1");
    expect(beam.code).toBe(0);
    const out = JSON.parse(beam.stdout);
    expect(out.results.map((r: { tokens: number[] }) => r.tokens)).toEqual(want.beams.map((r) => r.tokens));
    out.results.forEach((r: { logProb: number }, i: number) => expect(r.logProb).toBeCloseTo(want.beams[i].logProb, 4));
    const text = await reclm("lm", "generate", "-m", model, "-p", PROMPT, "--max-tokens", "6", "--beam", "3");
    expect(text.stdout.trim().split("\n")).toHaveLength(3);
    expect(text.stdout).toMatch(/^1\. \[logProb -\d+\.\d{4}, \d+ tokens, (eos|length|stop)\] "/);
  }, 120_000);

  it("--stop cuts the text, --lora changes the output's probability, and bad input exits 1 with a ReclmError line", async () => {
    const plain = JSON.parse((await reclm("lm", "generate", "-m", model, "-p", PROMPT, "--max-tokens", "8", "--json")).stdout).results[0];
    const stop = plain.text.slice(3, 5);
    const stopped = JSON.parse((await reclm("lm", "generate", "-m", model, "-p", PROMPT, "--max-tokens", "8", "--stop", stop, "--json")).stdout).results[0];
    expect(stopped.finish).toBe("stop");
    expect(stopped.text).toBe(plain.text.slice(0, plain.text.indexOf(stop)));
    const adapted = JSON.parse((await reclm("lm", "generate", "-m", model, "-p", PROMPT, "--max-tokens", "8", "--lora", adapter, "--json")).stdout).results[0];
    expect(adapted.logProb).not.toBeCloseTo(plain.logProb, 2);

    const missing = await reclm("lm", "generate", "-m", join(tmp, "absent.gguf"), "-p", "x");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^reclm: RECLM_ERR_FILE_NOT_FOUND: .*absent\.gguf/);
    const badLora = await reclm("lm", "generate", "-m", model, "-p", "x", "--lora", model);
    expect(badLora.code).toBe(1);
    expect(badLora.stderr).toMatch(/reclm: RECLM_ERR_BAD_CHECKPOINT: .*tiny\.gguf/);
    const badBeam = await reclm("lm", "generate", "-m", model, "-p", "x", "--beam", "0");
    expect(badBeam.stderr).toMatch(/--beam must be a positive integer/);
  }, 120_000);
});

describe("reclm lm perplexity (spawned)", () => {
  it("prints the library's perplexity for --text and --file, with and without a LoRA adapter", async () => {
    const want = await library(async (m) => {
      const tok = llamaCppTokenizer(m);
      const tokens = tok.tokenize(TEXT);
      const run = async (lora?: string) => {
        const s = await NextTokenScorer.create(m, { contextSize: 8, ...(lora ? { lora: { file: lora } } : {}) });
        try {
          return await s.perplexity(tokens, tok.bos);
        } finally {
          await s.dispose();
        }
      };
      return { plain: await run(), adapted: await run(adapter), tokens: tokens.length };
    });
    expect(want.plain.windows).toBeGreaterThan(2);
    expect(want.plain.predicted).toBe(want.tokens); // BOS starts every window: every text token is predicted
    const byText = JSON.parse((await reclm("lm", "perplexity", "-m", model, "--text", TEXT, "--context-size", "8", "--json")).stdout);
    expect(byText.perplexity).toBeCloseTo(want.plain.perplexity, 3);
    expect(byText.windows).toBe(want.plain.windows);
    const file = join(tmp, "text.txt");
    writeFileSync(file, TEXT);
    const byFile = await reclm("lm", "perplexity", "-m", model, "--file", file, "--context-size", "8");
    expect(byFile.code).toBe(0);
    expect(byFile.stdout).toBe(`perplexity ${want.plain.perplexity.toFixed(4)} (mean NLL ${want.plain.nll.toFixed(4)} nats) over ${want.plain.predicted} predicted tokens of ${want.tokens}, ${want.plain.windows} window(s) of up to 8 tokens\n`);
    const adapted = JSON.parse((await reclm("lm", "perplexity", "-m", model, "--text", TEXT, "--context-size", "8", "--lora", adapter, "--json")).stdout);
    expect(adapted.perplexity).toBeCloseTo(want.adapted.perplexity, 3);
    expect(Math.abs(adapted.perplexity - byText.perplexity)).toBeGreaterThan(1e-2);

    const both = await reclm("lm", "perplexity", "-m", model, "--text", TEXT, "--file", file);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/give exactly one of --text and --file/);
    const noFile = await reclm("lm", "perplexity", "-m", model, "--file", join(tmp, "absent.txt"));
    expect(noFile.stderr).toMatch(/RECLM_ERR_FILE_NOT_FOUND: .*absent\.txt/);
  }, 120_000);
});

