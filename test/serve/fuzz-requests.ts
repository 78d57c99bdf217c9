/**
 * Malformed requests for every route (fast-check), and what the service may answer to them: 2xx when the mutation
 * happens to be valid, else one of the documented refusals (400, 404, 413, 414, 415) in the ErrorResponse shape with the
 * field named. Never a 5xx, never a crash. test/serve/fuzz.test.ts runs a few hundred; bench/serve-fuzz.ts runs
 * tens of thousands and records the count.
 */
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { LIMITS } from "../../src/serve/schemas.ts";

export interface FuzzRequest {
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD";
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

export const DOCUMENTED_4XX = [400, 404, 413, 414, 415] as const;

const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", " ", "%", "%zz", "%00", "..", "../../etc/passwd", "\u0000", "a".repeat(300), "b".repeat(257), "9".repeat(40), "-1", "1e3", "0x10", "NaN", "true", "null", "[]", "{}"),
);

/** A path segment: mostly percent-encoded junk, sometimes raw (bad escapes included). */
const segment = fc.oneof(
  { weight: 3, arbitrary: junk.map((s) => encodeURIComponent(s)) },
  { weight: 1, arbitrary: fc.constantFrom("%zz", "%", "%E0%A4%A", "a%2Fb", "1", "a") },
);

const queryValue = fc.oneof(junk, fc.integer({ min: -1_000, max: 1_000 }).map(String), fc.constantFrom("0", "1", "100", "101", "10", "true", "false", "1.5", ""));
const queryKey = fc.oneof(fc.constantFrom("query", "limit", "k", "excludeSeen", "rank"), junk);
const query = fc
  .array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join("&")}`));

const path = fc.oneof(
  fc.constantFrom("/health", "/metrics", "/openapi.json", "/", "/app.js", "/style.css", "/v1/items", "/v1/recommend", "/v1/items/", "/v1/users//recommendations"),
  segment.map((s) => `/v1/items/${s}`),
  segment.map((s) => `/v1/users/${s}/recommendations`),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((xs) => `/${xs.join("/")}`),
  fc.tuple(segment, fc.constantFrom("/v1/items/", "/v1/users/", "/v1/")).map(([s, p]) => `${p}${s}/${s}`),
);

const anyJson = fc.jsonValue({ maxDepth: 3 });
const historyEntry = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 2_000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.record({ title: anyJson }),
  fc.record({ title: fc.string({ maxLength: 30 }) }),
  fc.dictionary(fc.string({ maxLength: 6 }), anyJson, { maxKeys: 2 }),
);
/** A recommend body with its fields mutated one way or another. */
const recommendBody = fc
  .record(
    {
      history: fc.oneof(fc.array(historyEntry, { maxLength: 8 }), anyJson, fc.array(fc.constant("1"), { minLength: LIMITS.historyItems + 1, maxLength: LIMITS.historyItems + 2 })),
      k: fc.oneof(fc.integer({ min: -3, max: 200 }), anyJson),
      excludeSeen: anyJson,
      rank: anyJson,
      extra: anyJson,
    },
    { requiredKeys: [] },
  )
  .map((b) => JSON.stringify(b));

const body = fc.oneof(
  { weight: 4, arbitrary: recommendBody },
  { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: recommendBody.chain((s) => fc.nat({ max: Math.max(0, s.length - 1) }).map((n) => s.slice(0, n))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('{"__proto__": {"x": 1}, "history": ["1"]}', '{"constructor": {"prototype": {}}}', `{"history": ["${"x".repeat(LIMITS.bodyBytes)}"]}`, "\uFEFF{}", "[]", "null", "") },
);

const contentType = fc.constantFrom("application/json", "application/json", "application/json; charset=utf-8", "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "");

export const malformedRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.record({ method: fc.constant("POST" as const), url: fc.tuple(fc.constantFrom("/v1/recommend", "/v1/recommend", "/v1/items", "/health"), query).map(([p, q]) => p + q), body, contentType }),
  fc.record({ method: fc.constantFrom("GET" as const, "HEAD" as const), url: fc.tuple(path, query).map(([p, q]) => p + q), body: fc.constant(undefined), contentType: fc.constant("") }),
  fc.record({ method: fc.constantFrom("PUT" as const, "DELETE" as const, "PATCH" as const, "OPTIONS" as const), url: fc.tuple(path, query).map(([p, q]) => p + q), body: fc.option(body), contentType }),
).map((r): FuzzRequest => {
  const headers: Record<string, string> = {};
  if (r.contentType) headers["content-type"] = r.contentType;
  return { method: r.method, url: r.url, headers, ...(r.body !== undefined && r.body !== null ? { payload: r.body } : {}) };
});

/** Why an answer breaks the contract, or undefined when it keeps it. */
export function contractBreach(req: FuzzRequest, status: number, headers: Record<string, unknown>, body: string): string | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (!(DOCUMENTED_4XX as readonly number[]).includes(status)) return `status ${status} is not a documented answer`;
  if (req.method === "HEAD") return undefined; // no body by definition
  if (!String(headers["content-type"] ?? "").startsWith("application/json")) return `a ${status} with content-type ${String(headers["content-type"])}`;
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(body);
  } catch {
    return `a ${status} whose body is not JSON: ${body.slice(0, 80)}`;
  }
  if (e.statusCode !== status) return `body statusCode ${String(e.statusCode)} != ${status}`;
  if (typeof e.code !== "string" || !e.code.startsWith("RECLM_ERR_")) return `code ${String(e.code)} is not reclm's`;
  if (typeof e.message !== "string" || e.message.length === 0) return "no message";
  if (typeof e.field !== "string" || e.field.length === 0) return "no field named";
  return undefined;
}

export interface FuzzTally {
  requests: number;
  byStatus: Record<string, number>;
  breaches: { req: FuzzRequest; status: number; why: string }[];
}

/** Sends `runs` generated requests one after another through inject; a thrown error (a crash) propagates. */
export async function fuzzApp(app: FastifyInstance, runs: number, seed: number): Promise<FuzzTally> {
  const tally: FuzzTally = { requests: 0, byStatus: {}, breaches: [] };
  await fc.assert(
    fc.asyncProperty(malformedRequest, async (req) => {
      const res = await app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
      tally.requests++;
      tally.byStatus[res.statusCode] = (tally.byStatus[res.statusCode] ?? 0) + 1;
      const why = contractBreach(req, res.statusCode, res.headers, res.body);
      if (why) tally.breaches.push({ req, status: res.statusCode, why });
    }),
    { numRuns: runs, seed },
  );
  return tally;
}
