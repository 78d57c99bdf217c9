/**
 * reclm as a user installs it: `npm pack`, the tarball installed into an empty project with no TypeScript and no tsx,
 * then plain Node scripts that `import … from "reclm"` (a consumer script, and examples/), the built `reclm` binary,
 * and a TypeScript consumer type-checked against the shipped .d.ts.
 *
 * The install is `npm ci` from a lock file derived from reclm's own (reclm's production dependencies at the versions
 * reclm pins, plus the tarball), preferring npm's cache: `npm ci` of the checkout filled it, so this needs no network
 * beyond what that install needed.
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../src/data/index.ts";
import { fullRanking } from "../src/eval/full-ranking.ts";
import { createBaseline } from "../src/models/registry.ts";
import { PACKAGE_ROOT } from "../src/paths.ts";

const tmp = mkdtempSync(join(tmpdir(), "reclm-package-"));
const project = join(tmp, "consumer");
const env = { ...process.env, RECLM_CACHE: join(tmp, "cache"), RECLM_THREADS: "1", RECLM_DEBUG: "" };

function run(file: string, args: string[], options: ExecFileSyncOptions = {}): string {
  return execFileSync(file, args, { cwd: project, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options }).toString();
}

/** The newest modification time of the files the build reads. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** dist/ as the sources are now: `npm ci` built it (prepare); after an edit to src/ it is built again. */
function ensureBuilt(): void {
  const built = join(PACKAGE_ROOT, "dist", "index.js");
  const sources = Math.max(newestSource(join(PACKAGE_ROOT, "src")), ...["package.json", "tsconfig.json", "tsconfig.build.json"].map((f) => statSync(join(PACKAGE_ROOT, f)).mtimeMs));
  if (!existsSync(built) || statSync(built).mtimeMs < sources) run("npm", ["run", "build"], { cwd: PACKAGE_ROOT });
}

/** package-lock.json of the consumer: the tarball, and reclm's own locked entries except its dev-only ones. */
function consumerLock(tarball: string): unknown {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package-lock.json"), "utf8"));
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    "": { name: "consumer", dependencies: { reclm: spec } },
    "node_modules/reclm": { version: pkg.version, resolved: spec, integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
    if (path.startsWith("node_modules/") && !entry.dev) packages[path] = entry;
  }
  return { name: "consumer", lockfileVersion: 3, requires: true, packages };
}

let tarball: string;
beforeAll(() => {
  ensureBuilt();
  const packed = JSON.parse(run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], { cwd: PACKAGE_ROOT })) as { filename: string }[];
  tarball = resolve(tmp, packed[0].filename);
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { reclm: `file:${tarball}` } }));
  writeFileSync(join(project, "package-lock.json"), JSON.stringify(consumerLock(tarball)));
  run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]);
  cpSync(join(PACKAGE_ROOT, "examples"), join(project, "examples"), { recursive: true });
}, 300_000);

describe("the packed package, installed into an empty project", () => {
  it("ships the built JavaScript and its types, not the sources; installs no TypeScript and no tsx", () => {
    const installed = join(project, "node_modules");
    expect(existsSync(join(installed, "reclm", "dist", "index.js"))).toBe(true);
    expect(existsSync(join(installed, "reclm", "dist", "index.d.ts"))).toBe(true);
    expect(existsSync(join(installed, "reclm", "src"))).toBe(false);
    for (const dev of ["typescript", "tsx", "vitest"]) expect(existsSync(join(installed, dev)), dev).toBe(false);
  });

  it("a plain .mjs script loads the embedded dataset, evaluates co-occurrence and prints its Recall@10", async () => {
    writeFileSync(
      join(project, "consumer.mjs"),
      [
        'import { createBaseline, fullRanking, loadDataset } from "reclm";',
        'const ds = await loadDataset("embedded");',
        'const report = await fullRanking(createBaseline("cooc", ds, { split: "test" }), ds, { split: "test" });',
        'console.log(`Recall@10 ${report.metrics["Recall@10"]}`);',
      ].join("\n"),
    );
    const printed = run(process.execPath, ["consumer.mjs"]);
    const ds = await loadDataset("embedded");
    const expected = (await fullRanking(createBaseline("cooc", ds, { split: "test" }), ds, { split: "test" })).metrics["Recall@10"];
    expect(printed.trim()).toBe(`Recall@10 ${expected}`);
  });

  it("the installed `reclm` binary runs the built CLI, and its training child runs the built job on plain Node", () => {
    const reclm = join(project, "node_modules", ".bin", "reclm");
    const help = run(reclm, ["--help"]);
    expect(help).toMatch(/^Usage: reclm \[options\] \[command\]/);
    for (const command of ["data", "eval", "train", "retrieve", "run"]) expect(help).toContain(`  ${command}`);
    const out = join(tmp, "cli-run");
    const trained = run(reclm, ["train", "-m", "lrurec", "-d", "embedded", "--max-steps", "1", "--set", "maxLen=8", "--set", "hidden=8", "--out", out]);
    expect(trained).toMatch(/lrurec on embedded \(protocol embedded, preset embedded\): 1 steps/);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
  });

  it("a TypeScript consumer type-checks against the shipped .d.ts, and a wrong argument does not", () => {
    writeFileSync(
      join(project, "consumer.ts"),
      [
        'import { fullRanking, loadDataset, LRURec, resolveConfig, resolveModel, ReclmError, type LRURecConfig, type RankingReport, type SequenceDataset } from "reclm";',
        'const ds: SequenceDataset = await loadDataset("embedded");',
        'const report: RankingReport = await fullRanking(await resolveModel("cooc", ds, { split: "test" }), ds);',
        'const recall: number = report.metrics["Recall@10"];',
        'const config: LRURecConfig = resolveConfig(LRURec, { preset: "embedded" }).config;',
        "const blocks: number = config.blocks;",
        'const error = new ReclmError("RECLM_ERR_BAD_CONFIG", "x", { field: "k" });',
        '// @ts-expect-error: a split is "val" or "test"',
        'await resolveModel("cooc", ds, { split: "train" });',
        '// @ts-expect-error: not one of the error codes',
        'new ReclmError("RECLM_ERR_NOPE", "x");',
        "console.log(recall, blocks, error.code);",
      ].join("\n"),
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          types: ["node"],
          typeRoots: [join(PACKAGE_ROOT, "node_modules", "@types")],
          // node-llama-cpp's own .d.ts have errors of their own: lib checking is limited to reclm's files below.
          skipLibCheck: false,
        },
        files: ["consumer.ts"],
      }),
    );
    let output = "";
    try {
      run(process.execPath, [join(PACKAGE_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."]);
    } catch (e) {
      output = String((e as { stdout?: string }).stdout);
    }
    const ours = output.split("\n").filter((line) => /^(consumer\.ts|node_modules\/reclm\/)/.test(line));
    expect(ours).toEqual([]);
  });
});

describe("examples/ run against the installed package", () => {
  it("evaluate-csv.mjs: the sample shop log as a custom dataset, the baselines' table", () => {
    const out = run(process.execPath, ["examples/evaluate-csv.mjs"]);
    expect(out).toMatch(/^150 users, 40 items, \d+ interactions after the lrurec protocol/);
    const recall = (name: string) => Number(new RegExp(`│ ${name}\\s+│ [\\d.]+ │ ([\\d.]+) │`).exec(out)?.[1]);
    expect(recall("cooc")).toBeGreaterThan(recall("pop")); // the log's purchases follow each other within a category
  });

  it("train-and-retrieve.mjs, then load-run-dir.mjs: the run dir scores as the training run reported", () => {
    const dir = join(tmp, "run");
    const trained = run(process.execPath, ["examples/train-and-retrieve.mjs", dir, "2"]);
    expect(trained).toMatch(/trained 2 steps \(stopped by maxSteps\)/);
    expect(trained).toMatch(/top-20 holds the test item for \d+ of 1500 users/);
    expect(trained).toMatch(/\nafter .+ \/ .+ \/ .+: .+/);
    const loaded = run(process.execPath, ["examples/load-run-dir.mjs", dir]);
    const [, again, reported] = /test Recall@10 ([\d.]+) \(report\.json: ([\d.]+)\)/.exec(loaded) ?? [];
    expect(again).toBeDefined();
    expect(again).toBe(reported);
    expect(trained).toContain(`test Recall@10 ${reported}`);
    expect(loaded).toContain(`redrew ${join(dir, "training.svg")}`);
  });
});
