/**
 * The HTTP service: a Fastify app over one dataset, one retriever and optionally one ranker. It keeps no state
 * between requests (models and catalog are read-only once loaded), so N copies behind any load balancer serve N
 * times the traffic. Tests drive it with `app.inject`; `reclm serve` listens with it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Ranker, SequenceDataset, SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { checkFusionWeight } from "../eval/fusion.ts";
import { ScoreBatcher, type BatcherOptions } from "./batcher.ts";
import { CatalogIndex } from "./catalog.ts";
import { errorBody, RETRY_AFTER_S } from "./errors.ts";
import { serviceMetrics } from "./metrics.ts";
import { serialRanker } from "./serial-ranker.ts";
import { recommend, resolveHistory, type HistoryEntry, type RecommendAnswer } from "./recommend.ts";
import { healthSchema, itemSchema, LIMITS, metricsSchema, pageSchema, recommendSchema, searchSchema, SHARED_SCHEMAS, userRecommendSchema } from "./schemas.ts";

/** What the service serves. The models are the caller's to build (resolveModel, a ranker loader) and to inject. */
export interface ServeModels {
  dataset: SequenceDataset;
  retriever: SequentialRecommender;
  ranker?: Ranker;
}

export interface AppOptions {
  /** The models, or their loading: until it resolves, /health answers 503 and the /v1 routes 503 + Retry-After. */
  models: ServeModels | Promise<ServeModels>;
  batch?: BatcherOptions;
  /** A request still unanswered after this long gets 503 + Retry-After. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Candidates the ranker re-orders. Default 20 (LlamaRec). */
  candidates?: number;
  /** The ranker's scores fused with the retriever's (src/eval/fusion.ts): 0, the default, is the ranker alone. */
  fusionWeight?: number;
  /** Ranker calls that may wait while one runs (one at a time: an LLM is not re-entrant); more get 503. Default 16. */
  maxRankWaiting?: number;
  /** Fastify's logger (pino); off by default. */
  logger?: boolean;
  /** Dispose the models when the app closes. Default true. */
  disposeOnClose?: boolean;
}

interface Loaded extends ServeModels {
  index: CatalogIndex;
  batcher: ScoreBatcher;
}

const PAGE_DIR = join(fileURLToPath(new URL(".", import.meta.url)), "page");
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const candidates = options.candidates ?? 20;
  const fusionWeight = checkFusionWeight(options.fusionWeight ?? 0);
  let loaded: Loaded | undefined;
  let loadError: unknown;
  const startedAt = Date.now();

  const metrics = serviceMetrics({ queueDepth: () => loaded?.batcher.depth ?? 0, ready: () => loaded !== undefined });
  const app = Fastify({
    logger: options.logger ?? false,
    return503OnClosing: false,
    bodyLimit: LIMITS.bodyBytes,
    // Ids up to the schema's limit reach validation (a 400 naming "id"); longer path segments are a 414.
    routerOptions: { maxParamLength: LIMITS.idChars },
    // Node's own limits for slow or stuck clients (apply once listening).
    requestTimeout: timeoutMs * 2,
    // Bodies are validated as sent: "10" is not an integer and "x" is not a one-item history. Query strings are
    // converted explicitly (coerceQuery) since everything in a URL is a string.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    frameworkErrors: (error, _req, reply) => {
      const body = errorBody(error);
      void (reply as FastifyReply).code(body.statusCode).send(body);
    },
  });

  const ready = (async () => {
    const m = await options.models;
    if (m.retriever.nItems !== m.dataset.catalog.size) {
      throw new ReclmError("RECLM_ERR_SHAPE", `model "${m.retriever.name}" scores ${m.retriever.nItems} items but dataset "${m.dataset.name}" has ${m.dataset.catalog.size}`, { field: "nItems" });
    }
    const batcher = new ScoreBatcher(m.retriever, options.batch, (b) => {
      metrics.batch.observe({}, b.size);
      metrics.stage.observe({ stage: "retrieve" }, b.forwardMs / 1000);
    });
    // Every batch shape a forward may take, once, before /health says ok: a trained model compiles a graph per
    // shape (rows a power of two, and the window for a model that runs short histories through a short one), and the
    // first request should not pay for it.
    if (m.retriever.warmUp) await m.retriever.warmUp(batcher.maxBatch);
    else {
      const sample = m.dataset.train.find((h) => h.length > 0) ?? Int32Array.of(1);
      for (let b = 1; ; b *= 2) {
        await m.retriever.scoreAll(new Array<Int32Array>(b).fill(sample));
        if (b >= batcher.maxBatch) break;
      }
    }
    loaded = { ...m, ranker: m.ranker && serialRanker(m.ranker, options.maxRankWaiting ?? 16), index: new CatalogIndex(m.dataset), batcher };
  })();
  ready.catch((e) => {
    loadError = e;
  });
  const need = (): Loaded => {
    if (loaded) return loaded;
    if (loadError !== undefined) throw new ReclmError("RECLM_ERR_NOT_READY", `the models failed to load: ${(loadError as Error).message ?? String(loadError)}`);
    throw new ReclmError("RECLM_ERR_NOT_READY", "the models are still loading; retry shortly");
  };

  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "reclm", version: "1", description: "Sequential recommendation: a retriever over the catalog, optionally re-ordered by an LLM ranker. Every refusal is an ErrorResponse." },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
  });

  // Stopping: requests that still arrive on open keep-alive connections get reclm's 503 + Retry-After (a load
  // balancer retries them elsewhere) rather than Fastify's bare one; those already in flight finish.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async () => {
    if (closing) throw new ReclmError("RECLM_ERR_NOT_READY", "the server is shutting down; retry on another replica");
  });
  app.addHook("preValidation", async (req) => coerceQuery(req));
  app.addHook("onResponse", async (req, reply) => {
    const route = req.is404 ? "unmatched" : (req.routeOptions.url ?? "unmatched");
    metrics.http.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((error, req, reply) => {
    const body = errorBody(error, (e) => req.log.error(e));
    if (body.statusCode === 503) {
      void reply.header("retry-after", String(RETRY_AFTER_S));
      const code = body.code === "RECLM_ERR_OVERLOADED" ? "queue_full" : body.code === "RECLM_ERR_TIMEOUT" ? "timeout" : undefined;
      if (code) metrics.shed.inc({ reason: code });
    }
    void reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ statusCode: 404, code: "RECLM_ERR_NOT_FOUND", error: "Not Found", message: `no route ${req.method} ${req.url.split("?")[0].slice(0, 200)}`, field: "url" });
  });
  app.addHook("onClose", async () => {
    await ready.catch(() => undefined);
    if (!loaded) return;
    await loaded.batcher.close();
    if (options.disposeOnClose ?? true) {
      await loaded.ranker?.dispose?.();
      await loaded.retriever.dispose?.();
    }
  });

  app.get("/health", { schema: healthSchema }, async (_req, reply) => {
    if (!loaded) {
      void reply.code(503).header("retry-after", String(RETRY_AFTER_S));
      return loadError !== undefined ? { status: "failed", message: String((loadError as Error).message ?? loadError) } : { status: "loading" };
    }
    const { dataset, retriever, ranker, batcher } = loaded;
    return {
      status: "ok",
      dataset: dataset.name,
      protocol: dataset.protocol,
      items: dataset.catalog.size,
      users: dataset.users.length,
      model: retriever.name,
      ranker: ranker?.name,
      ...(ranker ? { fusionWeight } : {}),
      inputWindow: retriever.inputWindow,
      queueDepth: batcher.depth,
      uptimeS: (Date.now() - startedAt) / 1000,
    };
  });

  app.get("/metrics", { schema: metricsSchema }, async (_req, reply) => {
    void reply.type("text/plain; version=0.0.4; charset=utf-8");
    return metrics.registry.render();
  });

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  app.get<{ Querystring: { query: string; limit: number } }>("/v1/items", { schema: searchSchema }, async (req) => {
    const { index } = need();
    return { items: index.search(req.query.query, req.query.limit).map((id) => index.api(id)) };
  });

  app.get<{ Params: { id: string } }>("/v1/items/:id", { schema: itemSchema }, async (req) => {
    const { index } = need();
    const id = index.idOf(req.params.id);
    if (id === undefined) throw new ReclmError("RECLM_ERR_NOT_FOUND", `no item has the id ${JSON.stringify(req.params.id)}`, { field: "id" });
    return index.api(id);
  });

  const answer = async (history: Int32Array, q: { k: number; excludeSeen: boolean; rank: boolean }) => {
    const m = need();
    const t0 = performance.now();
    const res = await withDeadline(timeoutMs, (signal) => recommend({ history, k: q.k, excludeSeen: q.excludeSeen, rank: q.rank }, { retriever: m.retriever, batcher: m.batcher, ranker: m.ranker, candidates, fusionWeight }, signal));
    metrics.stage.observe({ stage: "queue" }, res.timings.queueMs / 1000);
    if (res.timings.rankMs !== undefined) metrics.stage.observe({ stage: "rank" }, res.timings.rankMs / 1000);
    return toApi(m, res, performance.now() - t0);
  };

  app.post<{ Body: { history: HistoryEntry[]; k: number; excludeSeen: boolean; rank: boolean } }>("/v1/recommend", { schema: recommendSchema }, async (req) => {
    const { index } = need();
    return answer(resolveHistory(req.body.history, index), req.body);
  });

  app.get<{ Params: { id: string }; Querystring: { k: number; excludeSeen: boolean; rank: boolean } }>(
    "/v1/users/:id/recommendations",
    { schema: userRecommendSchema },
    async (req) => {
      const { index } = need();
      const history = index.userHistory(req.params.id);
      if (!history) throw new ReclmError("RECLM_ERR_NOT_FOUND", `no user has the id ${JSON.stringify(req.params.id)}`, { field: "id" });
      return { user: req.params.id, historyLength: history.length, ...(await answer(history, req.query)) };
    },
  );

  // The web page: three small files read once, no build step, no framework.
  for (const [url, { file, type }] of Object.entries(PAGE_FILES)) {
    const body = readFileSync(join(PAGE_DIR, file));
    app.get(url, { schema: pageSchema }, async (_req, reply) => {
      void reply.type(type).header("cache-control", "no-cache");
      return body;
    });
  }

  await app.ready();
  return app;
}

function toApi(m: Loaded, res: RecommendAnswer, totalMs: number) {
  const items = (list: { item: number; score: number }[]) => list.map((r) => ({ id: m.index.item(r.item).rawId, title: m.index.item(r.item).title, score: r.score }));
  return {
    items: items(res.items),
    ...(res.retrieved ? { retrieved: items(res.retrieved) } : {}),
    model: m.retriever.name,
    ...(m.ranker ? { ranker: m.ranker.name } : {}),
    historyUsed: res.historyUsed,
    ...(res.warnings.length ? { warnings: res.warnings } : {}),
    timings: { ...res.timings, totalMs },
  };
}

/** Runs `work` with a signal that aborts after `ms` with RECLM_ERR_TIMEOUT; answers the timeout even if work hangs. */
async function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timeout = new ReclmError("RECLM_ERR_TIMEOUT", `no answer within ${ms} ms; retry shortly`);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort(timeout);
      reject(timeout);
    }, ms);
  });
  try {
    return await Promise.race([work(ac.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Query-string integers and booleans from their text, before validation: plain digits only for integers ("1e3",
 * "0x10", " 5" stay strings and fail as "must be integer"), "true"/"false" for booleans. A repeated key stays an
 * array and fails too.
 */
function coerceQuery(req: FastifyRequest): void {
  const props = (req.routeOptions.schema?.querystring as { properties?: Record<string, { type?: string }> } | undefined)?.properties;
  const q = req.query as Record<string, unknown> | undefined;
  if (!props || !q || typeof q !== "object") return;
  for (const [key, def] of Object.entries(props)) {
    const v = q[key];
    if (typeof v !== "string") continue;
    if (def.type === "integer" && /^\d{1,15}$/.test(v)) q[key] = Number(v);
    else if (def.type === "boolean" && (v === "true" || v === "false")) q[key] = v === "true";
  }
}
