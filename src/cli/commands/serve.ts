import { Command } from "commander";
import type { Ranker } from "../../contracts.ts";
import { knownModelNames, resolveModel } from "../../models/resolve.ts";
import { buildApp, closeGracefully, DEFAULT_MAX_BATCH, listen, loadRanker, type ServeModels } from "../../serve/index.ts";
import { loadWithProgress, parseFusionWeight, parseNonNegativeInt, parsePositiveInt, withDatasetOptions, type DataFileOptions } from "../common.ts";
import { ReclmError } from "../../errors.ts";
import { readLlamaRecRun } from "../../methods/llamarec/run.ts";
import { formatCliError } from "../errors.ts";
import { createProgressReporter } from "../progress.ts";

interface ServeOptions extends DataFileOptions {
  dataset: string;
  model?: string;
  protocol?: string;
  ranker?: string;
  fusionWeight?: number;
  host: string;
  port: number;
  threads?: number;
  maxBatch: number;
  maxQueue: number;
  batchWindowMs: number;
  timeoutMs: number;
  graceMs: number;
}

export function serveCommand(): Command {
  return withDatasetOptions(new Command("serve"))
    .description("HTTP service: recommendations, catalog search, a web page at /, OpenAPI at /openapi.json, Prometheus /metrics")
    .option("-m, --model <spec>", `retriever: ${knownModelNames().join(" | ")} (default with --ranker: the retriever it was fine-tuned on)`)
    .option("--ranker <run dir>", "an LLM ranker's run dir: POST /v1/recommend with rank: true re-orders the retriever's top 20")
    .option("--fusion-weight <w>", "with --ranker: fuse its scores with the retriever's, 0 (the ranker alone, default) to 1 (the retriever's order)", parseFusionWeight("--fusion-weight"))
    .option("--host <address>", "address to listen on (0.0.0.0 for every interface)", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", parseNonNegativeInt("--port"), 8080)
    .option("--threads <n>", "ggml CPU threads of the models (retriever default: 1, or $RECLM_THREADS; see the README's serving section)", parsePositiveInt("--threads"))
    .option("--max-batch <n>", "histories per retriever forward", parsePositiveInt("--max-batch"), DEFAULT_MAX_BATCH)
    .option("--max-queue <n>", "histories waiting before requests get 503 + Retry-After", parsePositiveInt("--max-queue"), 256)
    .option("--batch-window-ms <n>", "how long a request at an idle model waits for others to batch with (0: those read in the same event-loop turn)", parseNonNegativeInt("--batch-window-ms"), 0)
    .option("--timeout-ms <n>", "requests unanswered after this long get 503 + Retry-After", parsePositiveInt("--timeout-ms"), 10_000)
    .option("--grace-ms <n>", "on SIGTERM/SIGINT, how long in-flight requests may take to finish", parsePositiveInt("--grace-ms"), 10_000)
    .action(async (opts: ServeOptions) => {
      if (opts.fusionWeight !== undefined && opts.ranker === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--fusion-weight fuses a ranker with the retriever: give --ranker <run dir>", { field: "--fusion-weight" });
      // A ranker re-orders the top 20 of the retriever it was fine-tuned on: that one unless --model says otherwise.
      const model = opts.model ?? (opts.ranker !== undefined ? readLlamaRecRun(opts.ranker).retriever : undefined);
      if (model === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give --model <spec> (a retriever), or --ranker <run dir> to serve a ranker with its retriever", { field: "--model" });
      // Listen first and load behind it: /health says 503 "loading" until the models are in, so a load balancer
      // or an orchestrator can tell a starting replica from a dead one.
      const models = (async (): Promise<ServeModels> => {
        const dataset = await loadWithProgress(opts.dataset, opts, createProgressReporter());
        // A served retriever runs small forwards with idle gaps between them: ggml starts its worker threads for each
        // forward, and waking one on an idle core cost ~15 ms per forward on a 2-core VM (a 0.5 ms forward on one
        // thread; bench/engine/query-profile.ts --gap-ms 20). One thread, the caller's, is the default.
        const threads = opts.threads ?? (process.env.RECLM_THREADS ? undefined : 1);
        const retriever = await resolveModel(model, dataset, { split: "test", threads });
        let ranker: Ranker | undefined;
        try {
          if (opts.ranker !== undefined) ranker = await loadRanker(opts.ranker, dataset, { threads: opts.threads });
        } catch (e) {
          await retriever.dispose?.();
          throw e;
        }
        return { dataset, retriever, ranker };
      })();
      models.catch(() => undefined);
      const app = await buildApp({
        models,
        batch: { maxBatch: opts.maxBatch, maxQueue: opts.maxQueue, windowMs: opts.batchWindowMs },
        requestTimeoutMs: opts.timeoutMs,
        fusionWeight: opts.fusionWeight,
      });
      let url: string;
      try {
        url = await listen(app, opts.host, opts.port);
      } catch (e) {
        await app.close();
        throw e;
      }
      process.stdout.write(`listening on ${url} (loading ${opts.dataset} and ${model})\n`);
      let stopping = false;
      let stopped!: () => void;
      const closed = new Promise<void>((resolve) => (stopped = resolve));
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`${signal}: finishing requests in flight, then exiting\n`);
        if ((await closeGracefully(app, opts.graceMs)) === "timeout") {
          process.stderr.write(`reclm: requests still running after ${opts.graceMs} ms; exiting anyway\n`);
          process.exit(1);
        }
        stopped();
      };
      process.once("SIGTERM", () => void stop("SIGTERM"));
      process.once("SIGINT", () => void stop("SIGINT"));
      try {
        const m = await models;
        process.stdout.write(
          `ready: ${m.dataset.name} (protocol ${m.dataset.protocol}, ${m.dataset.catalog.size} items, ${m.dataset.users.length} users), ` +
            `retriever ${m.retriever.name}${m.ranker ? `, ranker ${m.ranker.name}` : ""}; page ${url}/, API ${url}/openapi.json\n`,
        );
      } catch (e) {
        process.stderr.write(`${formatCliError(e)}\n`);
        await closeGracefully(app, opts.graceMs);
        process.exitCode = 1;
        return;
      }
      await closed;
    });
}
