import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/paths.ts";
import { spawnedCli } from "../helpers/cli.ts";

const { tmp, reclm } = spawnedCli("reclm-cli-");

describe("reclm CLI (spawned)", () => {
  it("--help lists the subcommands, and every subcommand has --help", async () => {
    const top = await reclm("--help");
    expect(top.code).toBe(0);
    for (const c of ["data", "eval", "retrieve"]) expect(top.stdout).toContain(c);
    const subs = [["data", "--help"], ["data", "list", "--help"], ["data", "stats", "--help"], ["data", "prepare", "--help"], ["eval", "--help"], ["retrieve", "--help"]];
    for (const r of await Promise.all(subs.map((args) => reclm(...args)))) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: reclm/);
    }
  });

  it("export llamarec writes the retriever's candidates with --candidates retriever, and asks for the retriever without one", async () => {
    const out = join(tmp, "retrieved.jsonl");
    const r = await reclm("export", "llamarec", "--dataset", "embedded", "--format", "trl", "--candidates", "retriever", "--retriever", "cooc", "--max-examples", "12", "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote 12 examples of \d+ training prefixes \(trl, candidates retriever\)/);
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; completion: string });
    expect(rows).toHaveLength(12);
    for (const row of rows) expect(row.prompt).toContain("Candidate pool: (A) ");
    const missing = await reclm("export", "llamarec", "--dataset", "embedded", "--format", "trl", "--candidates", "retriever", "--out", out);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("--candidates retriever needs --retriever <run dir>");
  });

  it("eval --method llamarec --fusion validation chooses the weight on the validation users and scores the test users with it", async () => {
    const out = join(tmp, "fusion.json");
    const lm = join(PACKAGE_ROOT, "assets", "embedded", "lm-tiny.gguf");
    const r = await reclm("eval", "--dataset", "embedded", "--method", "llamarec", "--llm", lm, "--zero-shot", "--retriever", "pop", "--fusion", "validation", "--threads", "1", "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/llamarec-zero-shot \+ retriever \(fusion w [01](\.\d+)?\) +│ llamarec-overall/);
    type Res = { nSubset: number; subset: { ranker: Record<string, number> }; overall: { ranker: Record<string, number> } };
    const json = JSON.parse(readFileSync(out, "utf8")) as { results: Res[]; fused: { weight: number; selection: { users: number; curve: { weight: number; value: number }[] }; result: Res }[] };
    const [f] = json.fused;
    const best = Math.max(...f.selection.curve.map((c) => c.value));
    expect(f.selection.curve).toHaveLength(21);
    expect(f.weight).toBe(f.selection.curve.find((c) => c.value === best)?.weight);
    expect(f.result.nSubset).toBe(json.results[0].nSubset);
    // Each ranker (and its fused version) against the retriever, paired per user: the difference is the table's.
    expect(r.stdout).toMatch(/llamarec-zero-shot vs pop, overall NDCG@10: [-+]\d\.\d{4} \(95% interval [-+]\d\.\d{4} to [-+]\d\.\d{4}, p \d\.\d{3}, 1500 paired users\)/);
    const versus = (JSON.parse(readFileSync(out, "utf8")) as { versusRetriever: { name: string; overall: { diff: number } }[]; results: (Res & { overall: { retriever: Record<string, number> } })[] }).versusRetriever;
    expect(versus.map((v) => v.name)).toEqual(["llamarec-zero-shot", `llamarec-zero-shot + retriever (fusion w ${f.weight})`]);
    const res0 = (JSON.parse(readFileSync(out, "utf8")) as { results: (Res & { overall: { retriever: Record<string, number> } })[] }).results[0];
    expect(versus[0].overall.diff).toBeCloseTo(res0.overall.ranker["NDCG@10"] - res0.overall.retriever["NDCG@10"], 10);
    // Validation users are not the test users: the curve's values are not the test figures.
    expect(f.selection.users).not.toBe(f.result.nSubset);
    const inSample = await reclm("eval", "--dataset", "embedded", "--method", "llamarec", "--llm", lm, "--zero-shot", "--retriever", "pop", "--fusion", "validation", "--split", "val");
    expect(inSample.code).not.toBe(0);
    expect(inSample.stderr).toContain("cannot be evaluated on it too");
    const bad = await reclm("eval", "--dataset", "embedded", "--method", "llamarec", "--llm", lm, "--zero-shot", "--retriever", "pop", "--fusion", "1.5");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--fusion must be a number in [0, 1]');
    // A model URI whose host cannot be reached fails at once with the reason, not after minutes of retries.
    const offline = await reclm("eval", "--dataset", "embedded", "--method", "llamarec", "--llm", "http://127.0.0.1:1/model.gguf", "--zero-shot", "--retriever", "pop");
    expect(offline.code).not.toBe(0);
    expect(offline.stderr).toMatch(/reclm: RECLM_ERR_DOWNLOAD: field "--llm": cannot download http:\/\/127\.0\.0\.1:1\/model\.gguf: http:\/\/127\.0\.0\.1:1 is not reachable from here/);
    const noRanker = await reclm("recommend", "--model", "pop", "--dataset", "embedded", "--history", "x", "--fusion-weight", "0.5");
    expect(noRanker.code).not.toBe(0);
    expect(noRanker.stderr).toContain("--fusion-weight fuses a ranker with its retriever: give --ranker <run dir>");
  }, 240_000);

  it("data stats prints the embedded dataset's numbers, as a table and as JSON", async () => {
    const json = await reclm("data", "stats", "--dataset", "embedded", "--json");
    expect(json.code).toBe(0);
    const s = JSON.parse(json.stdout) as { users: number; items: number; interactions: number; avgLength: number };
    expect(s.users).toBeGreaterThan(0);
    expect(s.items).toBeGreaterThan(0);
    expect(s.avgLength).toBeCloseTo(s.interactions / s.users, 10);
    const table = await reclm("data", "stats", "--dataset", "embedded");
    expect(table.stdout).toContain(String(s.users));
    expect(table.stdout).toContain(String(s.interactions));
  });

  it("eval --model pop prints a R/N/M table and writes valid JSON", async () => {
    const out = join(tmp, "pop.json");
    const r = await reclm("eval", "--dataset", "embedded", "--model", "pop", "--ks", "5,10", "--out", out);
    expect(r.stderr).not.toMatch(/reclm:/);
    expect(r.code).toBe(0);
    for (const h of ["R@5", "R@10", "N@5", "N@10", "M@5", "M@10"]) expect(r.stdout).toContain(h);
    const json = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown> & { metrics: Record<string, number> };
    expect(json).toMatchObject({ protocol: "full-ranking", dataset: "embedded", model: "pop", split: "test" });
    expect(json.command).toMatch(/^reclm eval --dataset embedded --model pop/);
    expect(json.nUsers).toBeGreaterThan(0);
    expect(Object.keys(json.metrics).sort()).toEqual(["MRR@10", "MRR@5", "NDCG@10", "NDCG@5", "Recall@10", "Recall@5"]);
    expect(json.metrics["Recall@10"]).toBeGreaterThanOrEqual(json.metrics["Recall@5"]);
    expect(r.stdout).toContain(json.metrics["Recall@10"].toFixed(4));
    // not a TTY: progress comes as plain lines on stderr, never bars
    expect(r.stderr).toMatch(/full-ranking: \d+\/\d+ users/);

    // LlamaRec's mean-of-batch-means variant, on request, named as such, next to the per-user mean
    const out2 = join(tmp, "pop-bm.json");
    const bm = await reclm("eval", "--dataset", "embedded", "--model", "pop", "--ks", "5,10", "--batch-means", "16", "--out", out2);
    expect(bm.code).toBe(0);
    expect(bm.stdout).toContain("pop (mean of batch means, batch 16)");
    const j2 = JSON.parse(readFileSync(out2, "utf8")) as { metrics: Record<string, number>; meanOfBatchMeans: { batchSize: number; metrics: Record<string, number> } };
    expect(j2.metrics).toEqual(json.metrics);
    expect(j2.meanOfBatchMeans.batchSize).toBe(16);
    expect(Object.keys(j2.meanOfBatchMeans.metrics).sort()).toEqual(Object.keys(json.metrics).sort());
  });

  it("retrieve writes one JSON line per user with candidates in score order", async () => {
    const out = join(tmp, "cands.jsonl");
    const r = await reclm("retrieve", "--dataset", "embedded", "--model", "cooc", "--top", "5", "--out", out);
    expect(r.code).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { candidates: number[]; scores: number[]; positive: number; hit: boolean });
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines.slice(0, 50)) {
      expect(l.candidates).toHaveLength(5);
      for (let i = 1; i < l.scores.length; i++) expect(l.scores[i]).toBeLessThanOrEqual(l.scores[i - 1]);
      expect(l.hit).toBe(l.candidates.includes(l.positive));
    }
  });

  it("retrieve refuses a --top larger than the catalogue, naming --top; the default shrinks to a small one", async () => {
    const out = join(tmp, "too-many.jsonl");
    const r = await reclm("retrieve", "--dataset", "embedded", "--model", "pop", "--top", "1000000", "--out", out);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/RECLM_ERR_BAD_CONFIG: field "--top": --top 1000000 is larger than the catalogue of embedded \(\d+ items\)/);
    const bad = await reclm("retrieve", "--dataset", "embedded", "--model", "pop", "--top", "1e3", "--out", out);
    expect(bad.stderr).toMatch(/--top must be a positive integer, got "1e3"/);
    // 4 items: the default --top 20 becomes 4 instead of refusing a flag the user never typed
    const log = join(tmp, "four-items.csv");
    writeFileSync(log, "user,item,timestamp\n" + ["u1", "u2", "u3"].flatMap((u) => ["a", "b", "c", "d"].map((it, t) => `${u},${it},${t}`)).join("\n") + "\n");
    const small = await reclm("retrieve", "--dataset", "custom", "--protocol", "none", "--interactions", log, "--model", "pop", "--out", out);
    expect(small.stderr).not.toMatch(/reclm:/);
    expect(small.stdout).toMatch(/top-4 /);
  });

  it("a bad dataset or model name is one line on stderr, lists the valid names, exits non-zero", async () => {
    const ds = await reclm("eval", "--dataset", "no-such-data", "--model", "pop");
    expect(ds.code).not.toBe(0);
    expect(ds.stderr.trim().split("\n")).toHaveLength(1);
    expect(ds.stderr).toMatch(/RECLM_ERR_UNKNOWN_DATASET.*embedded/);
    expect(ds.stderr).not.toMatch(/at .*\.ts:\d+/);
    const model = await reclm("eval", "--dataset", "embedded", "--model", "no-such-model");
    expect(model.code).not.toBe(0);
    expect(model.stderr.trim().split("\n")).toHaveLength(1);
    expect(model.stderr).toMatch(/RECLM_ERR_UNKNOWN_MODEL.*pop, cooc/);
  });
});
