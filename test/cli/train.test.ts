import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnedCli } from "../helpers/cli.ts";

const { tmp, reclm } = spawnedCli("reclm-train-cli-", { RECLM_THREADS: "1" });

const TINY = ["--preset", "none", "--set", "maxLen=10", "--set", "hidden=16", "--set", "batchSize=128", "--set", "evalBatchSize=512", "--set", "validateEvery=3"];

describe("reclm train (spawned, child-process training)", () => {
  it("trains, prints the test table, writes a run dir that eval and retrieve accept", async () => {
    const run = join(tmp, "run1");
    const t = await reclm("train", "-m", "sasrec", "-d", "embedded", ...TINY, "--max-steps", "3", "-o", run);
    expect(t.stderr).not.toMatch(/Error/);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/sasrec on embedded \(protocol embedded, preset none\): 3 steps/);
    expect(t.stdout).toMatch(/sasrec test/);
    for (const f of ["checkpoint.safetensors", "model.safetensors", "config.json", "report.json", "report.md", "training.svg"]) expect(existsSync(join(run, f))).toBe(true);
    const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8"));
    expect(report.steps).toBe(3);
    expect(report.config.hidden).toBe(16);

    const out = join(tmp, "eval.json");
    const e = await reclm("eval", "-d", "embedded", "-m", run, "--batch-size", "100", "-o", out);
    expect(e.code).toBe(0);
    // the run dir scores exactly what the trainer evaluated on test (both mask the model's window of 10 items)
    const evaluated = JSON.parse(readFileSync(out, "utf8"));
    expect(evaluated.metrics).toEqual(report.test.metrics);
    expect(evaluated.maskWindow).toBe(10);
    expect(e.stdout).toMatch(/history masked in its last 10 items/);
    const all = await reclm("eval", "-d", "embedded", "-m", run, "--mask-window", "all", "-o", out);
    expect(all.stdout).toMatch(/history masked\)/);
    expect(JSON.parse(readFileSync(out, "utf8")).maskWindow).toBe("all");
    const badWindow = await reclm("eval", "-d", "embedded", "-m", run, "--mask-window", "0");
    expect(badWindow.code).not.toBe(0);
    expect(badWindow.stderr).toMatch(/--mask-window/);

    const r = await reclm("retrieve", "-d", "embedded", "-m", run, "--top", "20", "-o", join(tmp, "top.jsonl"));
    expect(r.code).toBe(0);
    const first = JSON.parse(readFileSync(join(tmp, "top.jsonl"), "utf8").split("\n")[0]);
    expect(first.candidates).toHaveLength(20);

    // Without --dataset, a run dir names the dataset and protocol it was trained on.
    const implied = await reclm("eval", "-m", run, "--ks", "10");
    expect(implied.stderr).not.toMatch(/reclm:|error:/);
    expect(implied.stdout).toMatch(/^full-ranking on embedded \(protocol /m);
    const rec = await reclm("recommend", "-m", run, "--ids", "--history", String(first.candidateIds[0]), "-k", "2");
    expect(rec.stderr).not.toMatch(/reclm:|error:/);
    expect(rec.stdout).toMatch(/^sasrec on embedded, history of 1/m);

    // --resume continues the same run dir to more steps; the run dir names its model and dataset
    const more = await reclm("train", "--max-steps", "6", "-o", run, "--resume");
    expect(more.stderr).not.toMatch(/reclm:|error:/);
    expect(more.code).toBe(0);
    expect(more.stdout).toMatch(/^sasrec on embedded \(protocol /m);
    const noModel = await reclm("train", "-d", "embedded", "-o", join(tmp, "fresh"));
    expect(noModel.stderr).toMatch(/field "--model": give --model <name> \(or --out <run dir> --resume to continue a run\)/);
    expect(JSON.parse(readFileSync(join(run, "report.json"), "utf8")).resumedFromStep).toBe(3);
    // without --resume the used dir is refused (nothing overwritten); --resume with --force is a contradiction
    const again = await reclm("train", "-m", "sasrec", "-d", "embedded", ...TINY, "--max-steps", "2", "-o", run);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds a run.*--resume.*--force/);
    expect(JSON.parse(readFileSync(join(run, "report.json"), "utf8")).steps).toBe(6);
    const both = await reclm("train", "-m", "sasrec", "-d", "embedded", "-o", run, "--resume", "--force");
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--resume .* --force .*pass one/);

    // plot redraws training.svg from report.json; a dir without one is a one-line error naming the file
    const svg = join(run, "training.svg");
    writeFileSync(svg, "stale");
    const p = await reclm("plot", run);
    expect(p.code).toBe(0);
    expect(readFileSync(svg, "utf8")).toMatch(/^<svg[\s\S]*sasrec on embedded/);
    const bad = await reclm("plot", tmp);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^reclm: RECLM_ERR_FILE_NOT_FOUND: .*report\.json/);
  }, 120_000);

  it("bad config fails in one line naming the field and its source", async () => {
    const cfg = join(tmp, "bad.json");
    writeFileSync(cfg, JSON.stringify({ lr: "fast" }));
    const a = await reclm("train", "-m", "sasrec", "-d", "embedded", "--config", cfg, "-o", join(tmp, "bad"));
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/RECLM_ERR_BAD_CONFIG.*field "lr".*bad\.json/);
    writeFileSync(cfg, "{\n  \"lr\": 0.1,\n  oops\n}");
    const b = await reclm("train", "-m", "sasrec", "-d", "embedded", "--config", cfg);
    expect(b.stderr).toMatch(/bad\.json:3/);
    const c = await reclm("train", "-m", "nosuch", "-d", "embedded", "-o", join(tmp, "x"));
    expect(c.stderr).toMatch(/unknown model "nosuch"/);
  }, 60_000);
});
