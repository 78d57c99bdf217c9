import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnedCli } from "../helpers/cli.ts";

const { tmp, reclm } = spawnedCli("reclm-run-", { RECLM_THREADS: "1" });

describe("reclm run (the main job), capped to a few steps", () => {
  it("prints one table of the baselines and the trained retriever on the embedded data, and writes its report", async () => {
    const out = join(tmp, "run");
    const r = await reclm("run", "--models", "lrurec", "--max-steps", "3", "--no-llamarec", "--out", out);
    expect(r.stderr).not.toMatch(/reclm:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/full ranking on embedded \(protocol embedded\), test split, 1500 users, whole history masked for every model/);
    for (const method of ["pop", "cooc", "lrurec"]) expect(r.stdout).toMatch(new RegExp(`│ ${method}\\s+│ 0\\.\\d{4}`));
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { rows: { method: string; metrics: Record<string, number> }[] };
    expect(report.rows.map((row) => row.method)).toEqual(["pop", "cooc", "lrurec"]);
    // the trained model's test in its run dir masked the whole history, like the baselines' rows
    const lru = JSON.parse(readFileSync(join(out, "lrurec", "report.json"), "utf8")) as { config: { maskScope: string }; steps: number; test: { metrics: Record<string, number> } };
    expect(lru.config.maskScope).toBe("history");
    expect(lru.steps).toBe(3);
    expect(report.rows[2].metrics["Recall@10"]).toBe(lru.test.metrics["Recall@10"]);
    expect(existsSync(join(out, "report.md"))).toBe(true);
  }, 180_000);

  it("re-orders LRURec's top-20 with the LlamaRec ranker that ships for the embedded data (the base LLM zero-shot only on request)", async () => {
    const out = join(tmp, "run-llamarec");
    const r = await reclm("run", "--models", "lrurec", "--max-steps", "3", "--out", out);
    expect(r.stderr).not.toMatch(/reclm:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/LlamaRec on embedded: LRURec's top-20 re-ordered by llamarec \(lm-tiny\.gguf\); \d+ of 1500 test users/);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { llamarec: { rows: { method: string; labels: { protocol: string }; metrics: Record<string, number> }[] } };
    const rows = report.llamarec.rows;
    expect(new Set(rows.map((row) => row.method))).toEqual(new Set(["lrurec", "llamarec"]));
    for (const row of rows) for (const v of Object.values(row.metrics)) expect(v).toBeGreaterThanOrEqual(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).toMatch(/## LlamaRec stage/);
  }, 300_000);
});
