import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { isReclmError } from "../../../src/errors.ts";
import { fullRanking } from "../../../src/eval/full-ranking.ts";
import { metricsMeanOfBatchMeans } from "../../../src/eval/metrics.ts";
import { parseSetFlags } from "../../../src/models/neural/config.ts";
import { trainModel, type TrainResult } from "../../../src/models/neural/trainer.ts";
import { loadTrained } from "../../../src/models/registry.ts";
import { SASRec, type SASRecConfig } from "../../../src/models/sasrec.ts";
import { Caser } from "../../../src/models/caser.ts";

/** Small enough for a few seconds on one thread; big enough that SASRec learns something. */
const TINY: Partial<SASRecConfig> = {
  maxLen: 10,
  hidden: 16,
  heads: 2,
  batchSize: 128,
  evalBatchSize: 512,
  validateEvery: 4,
  epochs: 50,
  lr: 5e-3,
  patience: 50,
};

let ds: SequenceDataset;
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "reclm-trainer-"));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  ds = await loadDataset("embedded");
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function paramsEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length) return false;
    for (let i = 0; i < v.length; i++) if (!Object.is(v[i], w[i])) return false;
  }
  return true;
}

describe("trainModel (SASRec, embedded, tiny)", () => {
  let full: TrainResult<SASRecConfig>;
  let fullDir: string;

  beforeAll(async () => {
    fullDir = tmp();
    full = await trainModel(SASRec, ds, { preset: "none", config: TINY, threads: 1, maxSteps: 8, outDir: fullDir });
  }, 60_000);
  afterAll(() => full?.recommender.dispose());

  it("validates at step 0 and every validateEvery steps, keeps the best, evaluates test with the best params", () => {
    expect(full.validations.map((v) => v.step)).toEqual([0, 4, 8]);
    expect(full.steps).toBe(8);
    expect(full.stoppedBy).toBe("maxSteps");
    // LlamaRec's selection: Recall@10 as the mean of per-batch means over batches of evalBatchSize users
    expect(full.config.selectAverage).toBe("batches");
    const values = full.validations.map((v) => v.selectValue!);
    expect(full.best.value).toBe(Math.max(...values));
    expect(full.best.step).toBe(full.validations[values.indexOf(Math.max(...values))].step);
    expect(full.test?.split).toBe("test");
    expect(full.test?.nUsers).toBe(ds.users.length);
  });

  it("tests with the papers' masking: only the model's window (the last maxLen items), not the whole history", async () => {
    expect(full.config.maskScope).toBe("window");
    expect(full.recommender.maskWindow).toBe(TINY.maxLen);
    const window = await fullRanking(full.recommender, ds, { ks: [10] }); // the model's own window by default
    const explicit = await fullRanking(full.recommender, ds, { ks: [10], maskWindow: TINY.maxLen });
    const whole = await fullRanking(full.recommender, ds, { ks: [10], maskWindow: Infinity });
    expect(full.test!.ranks).toEqual(window.ranks);
    expect(explicit.ranks).toEqual(window.ranks);
    // histories (mean length 25) are longer than the window of 10, so the two protocols differ on this data
    expect(Array.from(whole.ranks)).not.toEqual(Array.from(window.ranks));
    const reported = JSON.parse(readFileSync(join(fullDir, "report.json"), "utf8")).test;
    expect(reported.maskScope).toBe("window");
    expect(reported.maskWindow).toBe(TINY.maxLen);
    expect(readFileSync(join(fullDir, "report.md"), "utf8")).toContain("its last 10 items");
  });

  it("loading a run dir validates its config.json: a bad field names the file; a run saved before a field existed keeps its behaviour", () => {
    const dir = tmp();
    cpSync(fullDir, dir, { recursive: true });
    const file = join(dir, "config.json");
    const saved = JSON.parse(readFileSync(file, "utf8"));
    delete saved.config.maskScope; // a run saved before maskScope existed masked the whole history
    delete saved.config.selectAverage;
    writeFileSync(file, JSON.stringify(saved));
    const old = loadTrained(dir, { threads: 1 });
    try {
      expect(old.maskWindow).toBeUndefined();
      expect(old.config.selectAverage).toBe("users");
    } finally {
      old.dispose();
    }
    writeFileSync(file, JSON.stringify({ ...saved, config: { ...saved.config, hidden: "wide" } }));
    expect(() => loadTrained(dir, { threads: 1 })).toThrow(/config\.json.*field "hidden"|field "hidden".*config\.json/);
  });

  it("selects on the mean of per-batch validation means (LlamaRec's AverageMeterSet), not the per-user mean", async () => {
    // the recommender holds the best parameters: their validation, averaged per batch of evalBatchSize users
    const val = await fullRanking(full.recommender, ds, { split: "val", ks: [10], maskHistory: false, batchSize: TINY.evalBatchSize });
    expect(metricsMeanOfBatchMeans(val.ranks, [10], TINY.evalBatchSize!)["Recall@10"]).toBe(full.best.value);
    // 1,500 users in batches of 512 leave a last batch of 476: the two averages differ here
    expect(val.metrics["Recall@10"]).not.toBe(full.best.value);
  });

  it("the training loss falls", () => {
    const losses = full.validations.slice(1).map((v) => v.loss!);
    expect(full.validations[0].loss).toBeNull();
    expect(losses[1]).toBeLessThan(losses[0]);
  });

  it("writes a run dir that loads back to the same scores", async () => {
    const files = readdirSync(fullDir).sort();
    expect(files).toEqual(expect.arrayContaining(["checkpoint.safetensors", "config.json", "model.safetensors", "report.json", "report.md", "training.svg"]));
    expect(files.filter((f) => f.startsWith("best-step"))).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(fullDir, "report.json"), "utf8"));
    expect(report.test.metrics["Recall@10"]).toBe(full.test!.metrics["Recall@10"]);
    const loaded = loadTrained(fullDir, { threads: 1 });
    try {
      const hs = ds.train.slice(0, 7);
      const a = await loaded.scoreAll(hs);
      const b = await full.recommender.scoreAll(hs);
      expect(a.length).toBe(7 * (ds.catalog.size + 1));
      expect(Array.from(a)).toEqual(Array.from(b));
      // a fresh array per call: eval masks in place
      expect(await loaded.scoreAll(hs)).not.toBe(a);
    } finally {
      loaded.dispose();
    }
  });

  it("resume continues to exactly the uninterrupted run (params and metrics identical)", async () => {
    const dir = tmp();
    const first = await trainModel(SASRec, ds, { preset: "none", config: TINY, threads: 1, maxSteps: 4, outDir: dir, evalTest: false });
    first.recommender.dispose();
    expect(first.validations.map((v) => v.step)).toEqual([0, 4]);
    const second = await trainModel(SASRec, ds, { threads: 1, maxSteps: 8, outDir: dir, resume: true });
    try {
      expect(second.resumedFromStep).toBe(4);
      expect(second.validations.map((v) => v.metrics)).toEqual(full.validations.map((v) => v.metrics));
      expect(second.validations.map((v) => v.loss)).toEqual(full.validations.map((v) => v.loss));
      expect(second.test!.metrics).toEqual(full.test!.metrics);
      expect(paramsEqual(second.recommender.readParams(), full.recommender.readParams())).toBe(true);
    } finally {
      second.recommender.dispose();
    }
  }, 60_000);

  it("a different seed gives different parameters (the resume check can fail)", async () => {
    const other = await trainModel(SASRec, ds, { preset: "none", config: { ...TINY, seed: 7 }, threads: 1, maxSteps: 1, evalTest: false });
    try {
      expect(paramsEqual(other.recommender.readParams(), full.recommender.readParams())).toBe(false);
    } finally {
      other.recommender.dispose();
    }
  }, 60_000);

  it("refuses to change the config on resume, and to resume without a checkpoint", async () => {
    await expect(trainModel(SASRec, ds, { threads: 1, outDir: fullDir, resume: true, config: { lr: 0.1 } })).rejects.toThrow(/cannot change "lr" on resume/);
    await expect(trainModel(SASRec, ds, { threads: 1, outDir: fullDir, resume: true, preset: "ml-1m" })).rejects.toThrow(/cannot change the preset/);
    await expect(trainModel(SASRec, ds, { threads: 1, outDir: tmp(), resume: true })).rejects.toThrow(/nothing to resume/);
  });
});

describe("trainModel schedules", () => {
  it("a warmup+cosine schedule trains differently from the constant default", async () => {
    const cfg = { ...TINY, validateEvery: 0, epochs: 1 };
    const a = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, maxSteps: 3, evalTest: false });
    const b = await trainModel(SASRec, ds, { preset: "none", config: { ...cfg, lrSchedule: "cosine", warmupSteps: 2 }, threads: 1, maxSteps: 3, evalTest: false });
    try {
      expect(b.validations.at(-1)!.loss).not.toBe(a.validations.at(-1)!.loss);
      expect(b.config).toMatchObject({ lrSchedule: "cosine", warmupSteps: 2 });
    } finally {
      a.recommender.dispose();
      b.recommender.dispose();
    }
  }, 60_000);
});

describe("trainModel config errors", () => {
  it("names the bad field and where it came from", async () => {
    const err = await trainModel(SASRec, ds, { config: { dropout: 1.5 } as never, configSource: "my.json", maxSteps: 0 }).catch((e: unknown) => e);
    expect(isReclmError(err)).toBe(true);
    expect(String((err as Error).message)).toMatch(/field "dropout".*my\.json/);
    await expect(trainModel(SASRec, ds, { config: { hiddenSize: 3 } as never })).rejects.toThrow(/no config field "hiddenSize"/);
    await expect(trainModel(SASRec, ds, { preset: "nope" })).rejects.toThrow(/no preset "nope"/);
    // A model's own field with a declared schema (an enum) is checked by the validator, naming field and source.
    const init = await trainModel(SASRec, ds, { config: { embeddingInit: "xavier" } as never, configSource: "--set", maxSteps: 0 }).catch((e: unknown) => e);
    expect(String((init as Error).message)).toMatch(/field "embeddingInit".*"normal".*"truncated-normal".*--set/s);
    const heights = await trainModel(Caser, ds, { config: { filterHeights: [2, 0] } as never, configSource: "c.json", maxSteps: 0 }).catch((e: unknown) => e);
    expect(String((heights as Error).message)).toMatch(/field "filterHeights".*c\.json/s);
  });
});

describe("trainModel run dirs", () => {
  it("refuses a dir that already holds a run unless overwrite (which deletes that run's files, not the user's)", async () => {
    const dir = tmp();
    const cfg = { ...TINY, validateEvery: 2 };
    const first = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, maxSteps: 4, outDir: dir, evalTest: false });
    first.recommender.dispose();
    writeFileSync(join(dir, "notes.txt"), "mine");
    const before = readdirSync(dir).sort();
    expect(before).toEqual(expect.arrayContaining(["checkpoint.safetensors", "config.json", "model.safetensors", "report.json"]));
    const err = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, maxSteps: 2, outDir: dir }).catch((e: unknown) => e);
    expect(isReclmError(err)).toBe(true);
    expect(String((err as Error).message)).toMatch(/already holds a run.*--resume.*--force/);
    expect(readdirSync(dir).sort()).toEqual(before); // nothing touched
    // The second run validates at 0 and 2 only: its best file is best-step0 or best-step2, never the first run's step 4.
    const second = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, maxSteps: 2, outDir: dir, evalTest: false, overwrite: true });
    second.recommender.dispose();
    const after = readdirSync(dir);
    expect(after).toContain("notes.txt");
    expect(after.filter((f) => f.startsWith("best-step"))).not.toContain("best-step4.safetensors");
    expect(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")).steps).toBe(2);
  }, 60_000);

  it("a run that ended on its last epoch does not train on when resumed", async () => {
    const dir = tmp();
    // Validation never falls due, so only the final one (after the last epoch) checkpoints: at epoch 2, position 0.
    const cfg = { ...TINY, epochs: 2, validateEvery: 1000 };
    const first = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, outDir: dir, evalTest: false });
    first.recommender.dispose();
    expect(first.stoppedBy).toBe("epochs");
    expect(first.steps).toBeLessThan(1000);
    const again = await trainModel(SASRec, ds, { threads: 1, outDir: dir, resume: true, evalTest: false });
    again.recommender.dispose();
    expect(again.stoppedBy).toBe("epochs");
    expect(again.steps).toBe(first.steps);
  }, 60_000);

  it("a cosine schedule cut by maxSteps and resumed with a larger cap follows the uninterrupted run exactly", async () => {
    const cfg = { ...TINY, lrSchedule: "cosine", warmupSteps: 2, scheduleSteps: 8 } as const;
    const straight = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, maxSteps: 8, outDir: tmp(), evalTest: false });
    const dir = tmp();
    const cut = await trainModel(SASRec, ds, { preset: "none", config: cfg, threads: 1, maxSteps: 4, outDir: dir, evalTest: false });
    cut.recommender.dispose();
    const resumed = await trainModel(SASRec, ds, { threads: 1, maxSteps: 8, outDir: dir, resume: true, evalTest: false });
    try {
      expect(resumed.validations.map((v) => v.loss)).toEqual(straight.validations.map((v) => v.loss));
      expect(paramsEqual(resumed.recommender.readParams(), straight.recommender.readParams())).toBe(true);
    } finally {
      straight.recommender.dispose();
      resumed.recommender.dispose();
    }
  }, 60_000);
});

describe("trainModel schedule config", () => {
  it("rejects warmupSteps or scheduleSteps without the cosine schedule, and inherited or prototype names", async () => {
    await expect(trainModel(SASRec, ds, { preset: "none", config: { warmupSteps: 10 } as never, maxSteps: 0 })).rejects.toThrow(/warmupSteps only applies to lrSchedule "cosine"/);
    await expect(trainModel(SASRec, ds, { preset: "none", config: { scheduleSteps: 10 } as never, maxSteps: 0 })).rejects.toThrow(/scheduleSteps only applies/);
    await expect(trainModel(SASRec, ds, { preset: "none", config: { constructor: 1 } as never, maxSteps: 0 })).rejects.toThrow(/no config field "constructor"/);
    await expect(trainModel(SASRec, ds, { preset: "constructor", maxSteps: 0 })).rejects.toThrow(/no preset "constructor"/);
    const proto = parseSetFlags(['__proto__={"lr":1}']);
    expect(Object.keys(proto)).toEqual(["__proto__"]);
    await expect(trainModel(SASRec, ds, { preset: "none", config: proto, maxSteps: 0 })).rejects.toThrow(/no config field "__proto__"/);
  });
});
