import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnedCli } from "../helpers/cli.ts";
import { Rng } from "../../src/rng.ts";

const { tmp, reclm } = spawnedCli("reclm-custom-");

/** A user's own log: 40 users walking a ring of 30 items (so "next item" is learnable), ISO dates, string ids. */
function writeOwnData(): { interactions: string; items: string } {
  const rng = new Rng(5);
  const lines = ["user_id,item_id,timestamp"];
  for (let u = 0; u < 40; u++) {
    let it = rng.int(0, 30);
    for (let t = 0; t < 8; t++) {
      lines.push(`u${u},sku-${it},2024-01-${String(1 + t).padStart(2, "0")}T10:00:00Z`);
      it = (it + 1) % 30;
    }
  }
  const interactions = join(tmp, "log.csv");
  writeFileSync(interactions, `${lines.join("\n")}\n`);
  const items = join(tmp, "items.jsonl");
  writeFileSync(items, Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `sku-${i}`, title: `Product ${i}`, color: i % 2 ? "red" : "blue" })).join("\n") + "\n");
  return { interactions, items };
}

describe("reclm on the user's own data (--dataset custom)", () => {
  const { interactions, items } = writeOwnData();

  it("data stats and eval read CSV interactions + JSONL items", async () => {
    const stats = await reclm("data", "stats", "--dataset", "custom", "--protocol", "none", "--interactions", interactions, "--items", items, "--json");
    expect(stats.code).toBe(0);
    const s = JSON.parse(stats.stdout) as { users: number; items: number; interactions: number };
    expect(s).toMatchObject({ users: 40, items: 30, interactions: 320 });
    const ev = await reclm("eval", "--dataset", "custom", "--protocol", "none", "--interactions", interactions, "--items", items, "--model", "cooc");
    expect(ev.code).toBe(0);
    // On a ring, the item after the last one is always the next: co-occurrence must rank it first for every user.
    expect(ev.stdout).toMatch(/cooc\s*│\s*1\.0000/);
  });

  it("trains a retriever on it, evaluates the run dir and retrieves candidates under the user's own item ids", async () => {
    // paths relative to where the user runs reclm (tmp): training runs in a child process, which must read them alike
    const data = ["--dataset", "custom", "--protocol", "none", "--interactions", "log.csv", "--items", "items.jsonl"];
    const run = "lru-own";
    const small = ["--set", "maxLen=10", "--set", "hidden=16", "--set", "batchSize=8", "--set", "evalBatchSize=40", "--set", "validateEvery=20", "--set", "lr=0.01"];
    const t = await reclm("train", "--model", "lrurec", ...data, "--preset", "none", ...small, "--max-steps", "40", "--threads", "1", "--out", run);
    expect(t.stderr).not.toMatch(/reclm:/);
    expect(t.code).toBe(0);
    const ev = await reclm("eval", ...data, "--model", run, "--ks", "10", "--out", join(tmp, "own-eval.json"));
    expect(ev.code).toBe(0);
    // the ring's next item is learnable: far above the 10/28 a blind guess among the unseen items gets
    expect(JSON.parse(readFileSync(join(tmp, "own-eval.json"), "utf8")).metrics["Recall@10"]).toBeGreaterThan(0.9);
    const out = join(tmp, "own-top.jsonl");
    const r = await reclm("retrieve", ...data, "--model", run, "--top", "5", "--out", out);
    expect(r.code).toBe(0);
    const first = JSON.parse(readFileSync(out, "utf8").split("\n")[0]) as { user: string; candidates: number[]; candidateIds: string[] };
    expect(first.user).toBe("u0");
    expect(first.candidateIds).toHaveLength(5);
    for (const id of first.candidateIds) expect(id).toMatch(/^sku-\d+$/);
    // The run dir records the user's files (absolute): given the run dir alone, eval and recommend load them again.
    const saved = JSON.parse(readFileSync(join(tmp, run, "config.json"), "utf8")) as { dataFiles: Record<string, string> };
    expect(saved.dataFiles).toEqual({ interactions: join(tmp, "log.csv"), items: join(tmp, "items.jsonl") });
    const alone = await reclm("eval", "--model", run, "--ks", "10", "--out", join(tmp, "own-eval-alone.json"));
    expect(alone.stderr).not.toMatch(/reclm:|error:/);
    expect(alone.stdout).toMatch(/on custom \(protocol none, test split/);
    expect(JSON.parse(readFileSync(join(tmp, "own-eval-alone.json"), "utf8")).metrics).toEqual(JSON.parse(readFileSync(join(tmp, "own-eval.json"), "utf8")).metrics);
    const recAlone = await reclm("recommend", "--model", run, "--history", "Product 1", "Product 2", "-k", "1");
    expect(recAlone.stderr).not.toMatch(/reclm:|error:/);
    expect(recAlone.stdout).toMatch(/^lrurec on custom, history of 2/m);
    // A run dir that does not record them (made before reclm did) asks for them by name.
    const older = join(tmp, "lru-own-older");
    mkdirSync(older);
    const { dataFiles: _, ...withoutFiles } = JSON.parse(readFileSync(join(tmp, run, "config.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(older, "config.json"), JSON.stringify(withoutFiles));
    for (const args of [["eval", "--model", older], ["recommend", "--model", older, "--history", "Product 1"]]) {
      const noData = await reclm(...args);
      expect(noData.code, args[0]).not.toBe(0);
      expect(noData.stderr).toMatch(/field "--interactions": the run in .*lru-own-older \(--model\) was trained on your own data \(dataset "custom"\) and does not record its files: give its --interactions <file> and --items <file>/);
    }
    // Other logs under the same name, same catalogue size: the run dir refuses them instead of scoring another split.
    const other = join(tmp, "log-other.csv");
    writeFileSync(other, readFileSync(interactions, "utf8").replace(/^u0,/gm, "u0-renamed,"));
    const otherData = ["--dataset", "custom", "--protocol", "none", "--interactions", other, "--items", items];
    for (const args of [["eval", ...otherData, "--model", run], ["train", "--model", "lrurec", ...otherData, "--preset", "none", "--out", run, "--resume", "--max-steps", "60"]]) {
      const refused = await reclm(...args);
      expect(refused.code, args[0]).not.toBe(0);
      expect(refused.stderr).toMatch(/field "datasetFingerprint": run dir was trained on another split of custom \(protocol none\)/);
    }
  }, 120_000);

  it("a malformed row fails with one line naming the file, line and field", async () => {
    const bad = join(tmp, "bad.csv");
    writeFileSync(bad, "user_id,item_id,timestamp\nu1,a,2024-01-01\nu1,b,not-a-date\n");
    const r = await reclm("data", "stats", "--dataset", "custom", "--protocol", "none", "--interactions", bad);
    expect(r.code).not.toBe(0);
    // stderr carries progress lines (not a TTY) and then exactly one error line, no stack trace.
    const errors = r.stderr.trim().split("\n").filter((l) => l.startsWith("reclm:"));
    expect(errors).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(errors[0]).toContain(`${bad}:3`);
    expect(errors[0]).toContain('field "timestamp"');
  });

  it("--interactions without --dataset reads them; with another dataset named, or with --data-dir, it is refused, not ignored", async () => {
    const implied = await reclm("data", "stats", "--protocol", "none", "--interactions", interactions, "--json");
    expect(implied.code).toBe(0);
    expect(JSON.parse(implied.stdout)).toMatchObject({ dataset: "custom", users: 40, interactions: 320 });
    // every command that loads a dataset: eval, train, retrieve, finetune, export, lm
    const impliedEval = await reclm("eval", "--protocol", "none", "--interactions", interactions, "--model", "pop", "--ks", "10");
    expect(impliedEval.stderr).not.toMatch(/reclm:|error:/);
    expect(impliedEval.stdout).toMatch(/on custom \(protocol none, test split/);
    const rec = await reclm("recommend", "--protocol", "none", "--interactions", interactions, "--items", items, "--model", "pop", "--ids", "--history", "sku-1", "sku-2", "-k", "3");
    expect(rec.stderr).not.toMatch(/reclm:|error:/);
    expect(rec.stdout).toMatch(/^pop on custom, history of 2/m);
    const recNone = await reclm("recommend", "--model", "pop", "--history", "x");
    expect(recNone.stderr).toMatch(/--model needs --dataset unless it is a run dir \(or --interactions <file> for your own logs\)/);
    const none = await reclm("eval", "--model", "pop");
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/required option '-d, --dataset <name>' not specified \(or --interactions <file> for your own logs\)/);
    const named = await reclm("data", "stats", "--dataset", "embedded", "--interactions", interactions);
    expect(named.code).not.toBe(0);
    expect(named.stderr).toContain(`${interactions}, field "interactions"`);
    expect(named.stderr).toMatch(/load them as dataset "custom", not "embedded"/);
    const itemsOnly = await reclm("eval", "--dataset", "ml-1m", "--items", items, "--model", "pop");
    expect(itemsOnly.code).not.toBe(0);
    expect(itemsOnly.stderr).toMatch(/field "items".*not "ml-1m"/);
    const folder = await reclm("data", "stats", "--dataset", "custom", "--data-dir", tmp, "--interactions", interactions);
    expect(folder.code).not.toBe(0);
    expect(folder.stderr).toMatch(/dataset "custom" takes no data folder/);
    const embeddedFolder = await reclm("data", "stats", "--dataset", "embedded", "--data-dir", tmp);
    expect(embeddedFolder.stderr).toMatch(/dataset "embedded" takes no data folder \(it has no raw files\)/);
  });

  it("data stats says how many interaction items the items file leaves untitled", async () => {
    const partial = join(tmp, "items-partial.jsonl");
    writeFileSync(partial, readFileSync(items, "utf8").split("\n").slice(0, 27).join("\n") + "\n"); // sku-27..29 missing
    const data = ["--dataset", "custom", "--protocol", "none", "--interactions", interactions, "--items", partial];
    const table = await reclm("data", "stats", ...data);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/note: 3 interaction item\(s\) have no title in .*items-partial\.jsonl \(e\.g\. "sku-\d+", "sku-\d+", "sku-\d+"\); they show their raw id as title/);
    const json = JSON.parse((await reclm("data", "stats", ...data, "--json")).stdout) as { untitledItems: { count: number; examples: string[] } };
    expect(json.untitledItems.count).toBe(3);
    expect(json.untitledItems.examples.sort()).toEqual(["sku-27", "sku-28", "sku-29"]);
  });
});
