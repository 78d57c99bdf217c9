/**
 * JSON schemas of every route: Fastify validates requests with them (Ajv, no type coercion in bodies) and serializes
 * answers with them, and @fastify/swagger turns them into GET /openapi.json. Limits live here so that a request
 * that cannot be served is refused before any work.
 */

export const LIMITS = {
  /** Bytes of a request body. */
  bodyBytes: 256 * 1024,
  /** History entries in one request; longer histories are refused (the model reads far fewer: see inputWindow). */
  historyItems: 4096,
  /** Characters of an item id or a title. */
  idChars: 256,
  titleChars: 512,
  queryChars: 200,
  /** Largest k and search limit. */
  k: 100,
  limit: 100,
} as const;

/** Shared schemas, referenced as { $ref: "<id>#" }. */
export const SHARED_SCHEMAS = [
  {
    $id: "ErrorResponse",
    type: "object",
    description:
      "Every refusal. 400: the request is wrong (field names which part); 404: unknown route, item or user; 413: body over the limit; 414: a path segment (an id) longer than the limit; 415: not JSON; 503: not loaded yet, queue full or request timed out (Retry-After says when to retry).",
    required: ["statusCode", "code", "error", "message"],
    properties: {
      statusCode: { type: "integer" },
      code: { type: "string", description: "A stable code, e.g. RECLM_ERR_BAD_REQUEST, RECLM_ERR_UNKNOWN_ITEM, RECLM_ERR_OVERLOADED" },
      error: { type: "string", description: "The HTTP reason phrase" },
      message: { type: "string" },
      field: { type: "string", description: 'The part of the request at fault, e.g. "history[2]", "k", "id", "body"' },
      problems: {
        type: "array",
        description: "Every history entry that cannot be used (unknown, ambiguous or repeated), not only the first",
        items: {
          type: "object",
          required: ["field", "code", "message"],
          properties: { field: { type: "string" }, code: { type: "string" }, message: { type: "string" } },
        },
      },
    },
  },
  {
    $id: "Item",
    type: "object",
    required: ["id", "title"],
    properties: {
      id: { type: "string", description: "The dataset's own item id" },
      title: { type: "string" },
      text: { type: "string" },
      attributes: { type: "object", additionalProperties: { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] } },
    },
  },
  {
    $id: "ScoredItem",
    type: "object",
    required: ["id", "title", "score"],
    properties: { id: { type: "string" }, title: { type: "string" }, score: { type: "number" } },
  },
  {
    $id: "Timings",
    type: "object",
    description: "Milliseconds per stage of this request",
    required: ["queueMs", "retrieveMs", "totalMs", "batchSize"],
    properties: {
      queueMs: { type: "number", description: "waiting for a retriever forward" },
      retrieveMs: { type: "number", description: "the retriever's forward (shared by its batch)" },
      rankMs: { type: "number", description: "the ranker, when rank was asked" },
      totalMs: { type: "number", description: "in the server, from validated request to answer" },
      batchSize: { type: "integer", description: "histories in this request's retriever forward" },
    },
  },
  {
    $id: "Recommendations",
    type: "object",
    required: ["items", "model", "historyUsed", "timings"],
    properties: {
      items: { type: "array", items: { $ref: "ScoredItem#" }, description: "The answer: the ranker's order when rank was asked, else the retriever's" },
      retrieved: { type: "array", items: { $ref: "ScoredItem#" }, description: "With rank: the retriever's own top-k, for comparison" },
      model: { type: "string" },
      ranker: { type: "string" },
      historyUsed: { type: "integer", description: "The last history items the retriever read (its input window)" },
      warnings: { type: "array", items: { type: "string" } },
      timings: { $ref: "Timings#" },
    },
  },
] as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { $ref: "ErrorResponse#" }]));

const k = { type: "integer", minimum: 1, maximum: LIMITS.k, default: 10, description: "How many items to return" } as const;

export const healthSchema = {
  summary: "Liveness and readiness: 200 once the models are loaded, 503 before (and while shutting down)",
  response: {
    200: {
      type: "object",
      required: ["status"],
      properties: {
        status: { type: "string", enum: ["ok"] },
        dataset: { type: "string" },
        protocol: { type: "string" },
        items: { type: "integer" },
        users: { type: "integer" },
        model: { type: "string" },
        ranker: { type: "string" },
        fusionWeight: { type: "number", description: "the ranker's scores fused with the retriever's: 0 the ranker alone, 1 the retriever's order" },
        inputWindow: { type: "integer" },
        queueDepth: { type: "integer" },
        uptimeS: { type: "number" },
      },
    },
    503: { type: "object", required: ["status"], properties: { status: { type: "string", enum: ["loading", "failed"] }, message: { type: "string" } } },
  },
} as const;

export const metricsSchema = { summary: "Prometheus text: latency histograms per route and per stage (queue, retrieve, rank), batch sizes, shed requests" } as const;

export const searchSchema = {
  summary: "Search the catalog by title (every word must appear; case and accents ignored). No query: the most popular items",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      query: { type: "string", maxLength: LIMITS.queryChars, default: "" },
      limit: { type: "integer", minimum: 1, maximum: LIMITS.limit, default: 20 },
    },
  },
  response: { 200: { type: "object", required: ["items"], properties: { items: { type: "array", items: { $ref: "Item#" } } } }, ...errors(400, 503) },
} as const;

export const itemSchema = {
  summary: "One item by the dataset's own id",
  params: { type: "object", required: ["id"], properties: { id: { type: "string", minLength: 1, maxLength: LIMITS.idChars } } },
  querystring: { type: "object", additionalProperties: false, properties: {} },
  response: { 200: { $ref: "Item#" }, ...errors(400, 404, 414, 503) },
} as const;

export const recommendSchema = {
  summary: "Recommend from a history given as item ids or titles (oldest first)",
  description:
    "Unknown ids or titles, a title several items share, and an item listed twice are refused with 400 naming every such entry (problems). " +
    "A history longer than the model's input window is accepted: the model reads its last inputWindow items (historyUsed, and a warning says so), " +
    "and excludeSeen still removes every listed item from the answer. rank: true re-orders the retriever's top-20 with the loaded ranker (400 when none is loaded).",
  body: {
    type: "object",
    required: ["history"],
    additionalProperties: false,
    properties: {
      history: {
        type: "array",
        minItems: 1,
        maxItems: LIMITS.historyItems,
        items: {
          oneOf: [
            { type: "string", minLength: 1, maxLength: LIMITS.idChars },
            { type: "integer", minimum: 0 },
            { type: "object", required: ["title"], additionalProperties: false, properties: { title: { type: "string", minLength: 1, maxLength: LIMITS.titleChars } } },
          ],
        },
      },
      k,
      excludeSeen: { type: "boolean", default: true, description: "Leave the history's items out of the answer" },
      rank: { type: "boolean", default: false, description: "Re-order the retriever's top-20 with the LLM ranker" },
    },
  },
  response: { 200: { $ref: "Recommendations#" }, ...errors(400, 413, 415, 503) },
} as const;

export const userRecommendSchema = {
  summary: "Recommend for a user of the dataset, from their whole history (train, validation and test items)",
  params: { type: "object", required: ["id"], properties: { id: { type: "string", minLength: 1, maxLength: LIMITS.idChars } } },
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: { k, excludeSeen: { type: "boolean", default: true }, rank: { type: "boolean", default: false } },
  },
  response: { 200: { allOf: [{ $ref: "Recommendations#" }, { type: "object", required: ["user"], properties: { user: { type: "string" }, historyLength: { type: "integer" } } }] }, ...errors(400, 404, 414, 503) },
} as const;

/** Static files of the web page take no input at all. */
export const pageSchema = { hide: true, querystring: { type: "object" } } as const;
