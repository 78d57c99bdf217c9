import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnedCli } from "../helpers/cli.ts";

const { tmp, reclm } = spawnedCli("reclm-report-cli-");

describe("reclm report", () => {
  it("writes the charts and reports for a results file, and fails in one line on a bad one", async () => {
    const file = join(tmp, "r.json");
    writeFileSync(file, JSON.stringify({ benchmark: "r", rows: [{ method: "cooc", dataset: "embedded", protocol: "full-ranking", metrics: { "NDCG@10": 0.39, "Recall@10": 0.57 } }] }));
    const ok = await reclm("report", file, "--out", "out", "--title", "mine");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/wrote .*out\/quality\.svg and \.png/);
    for (const f of ["quality.svg", "quality.png", "report.html", "report.md"]) expect(existsSync(join(tmp, "out", f))).toBe(true);
    writeFileSync(file, "{");
    const bad = await reclm("report", file);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^reclm: RECLM_ERR_BAD_FIELD: .*r\.json: not valid JSON/);
  });
});
