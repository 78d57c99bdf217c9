import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { createBaseline } from "../../src/models/registry.ts";
import { buildApp } from "../../src/serve/app.ts";
import { LIMITS } from "../../src/serve/schemas.ts";
import type { SequenceDataset } from "../../src/contracts.ts";
import { lowIdsFirstRanker, referenceTopK, ScriptedRetriever, tinyDataset } from "./fixtures.ts";

const post = (app: FastifyInstance, payload: unknown) => app.inject({ method: "POST", url: "/v1/recommend", payload: payload as object });
const ids = (r: { json: () => { items: { id: string }[] } }) => r.json().items.map((i) => i.id);

describe("serve: tiny catalog, scripted retriever", () => {
  const ds = tinyDataset();
  const raw = (dense: number[]) => dense.map((i) => ds.catalog.items[i].rawId);
  let app: FastifyInstance;
  let retriever: ScriptedRetriever;
  beforeAll(async () => {
    retriever = new ScriptedRetriever(ds.catalog.size, 3);
    app = await buildApp({ models: { dataset: ds, retriever } });
  });
  afterAll(() => app.close());

  it("answers the reference top-k for ids, integer-free raw ids and titles alike", async () => {
    const history = Int32Array.of(2, 5);
    const want = raw(referenceTopK(ScriptedRetriever.expected(history, 8), history, 4, true));
    const byId = await post(app, { history: ["b", "e"], k: 4 });
    expect(byId.statusCode).toBe(200);
    expect(ids(byId)).toEqual(want);
    // Titles match without case, accents or extra spaces.
    const byTitle = await post(app, { history: [{ title: "  beta (1991)" }, { title: "EPSILON (1994)" }], k: 4 });
    expect(ids(byTitle)).toEqual(want);
    const body = byId.json();
    expect(body.items[0]).toEqual({ id: want[0], title: ds.catalog.items[ds.catalog.items.findIndex((it) => it.rawId === want[0])].title, score: expect.any(Number) });
    expect(body.timings).toMatchObject({ queueMs: expect.any(Number), retrieveMs: expect.any(Number), totalMs: expect.any(Number), batchSize: 1 });
    expect(body.model).toBe("scripted");
  });

  it("keeps the history's items with excludeSeen: false and leaves them out by default", async () => {
    const history = Int32Array.of(1, 2, 3);
    const keep = await post(app, { history: ["a", "b", "c"], k: 8, excludeSeen: false });
    expect(ids(keep)).toEqual(raw(referenceTopK(ScriptedRetriever.expected(history, 8), history, 8, false)));
    const drop = await post(app, { history: ["a", "b", "c"], k: 8 });
    expect(ids(drop)).toEqual(raw(referenceTopK(ScriptedRetriever.expected(history, 8), history, 8, true)));
    expect(ids(drop)).toHaveLength(5);
    expect(ids(drop)).not.toContain("a");
  });

  it("reports every unknown, ambiguous or repeated history entry, never drops one", async () => {
    const r = await post(app, { history: ["a", "zz", { title: "Twin (2000)" }, "a", { title: "No Such Film" }, "b"] });
    expect(r.statusCode).toBe(400);
    const body = r.json();
    expect(body.code).toBe("RECLM_ERR_BAD_REQUEST");
    expect(body.field).toBe("history[1]");
    expect(body.problems.map((p: { field: string }) => p.field)).toEqual(["history[1]", "history[2]", "history[3]", "history[4]"]);
    expect(body.problems[0]).toMatchObject({ code: "RECLM_ERR_UNKNOWN_ITEM", message: expect.stringContaining('"zz"') });
    expect(body.problems[1].message).toMatch(/2 items have the title "Twin \(2000\)" \(ids "f", "g"\)/);
    expect(body.problems[2].message).toMatch(/already history\[0\]/);
    expect(body.problems[3]).toMatchObject({ code: "RECLM_ERR_UNKNOWN_ITEM" });
    // An unknown title is answered with the closest titles (the CLI's lookup): a wrong year, a typo.
    const near = await post(app, { history: [{ title: "Omega (1998)" }, { title: "Gama Ray (1992)" }] });
    expect(near.json().problems[0].message).toMatch(/^no item titled "Omega \(1998\)" \(closest: "Omega \(1999\)"/);
    expect(near.json().problems[1].message).toMatch(/\(closest: "Gamma Ray \(1992\)"/);
    const unknownOnly = await post(app, { history: ["nope"] });
    expect(unknownOnly.json()).toMatchObject({ statusCode: 400, code: "RECLM_ERR_UNKNOWN_ITEM", field: "history[0]" });
    expect(unknownOnly.json().message).not.toMatch(/it is a title/);
    // A title sent where an id goes: the answer says how to send it.
    const titleAsId = await post(app, { history: ["Omega (1999)"] });
    expect(titleAsId.json().problems[0].message).toBe('unknown item id "Omega (1999)"; it is a title: send {"title": "Omega (1999)"}');
  });

  it("reads only the model's window of a long history, says so, and still leaves out all of it", async () => {
    retriever.batches.length = 0;
    const r = await post(app, { history: ["a", "b", "c", "d", "e"], k: 8 });
    expect(r.statusCode).toBe(200);
    expect(Array.from(retriever.batches[0][0])).toEqual([3, 4, 5]);
    const body = r.json();
    expect(body.historyUsed).toBe(3);
    expect(body.warnings[0]).toMatch(/reads the last 3 of the history's 5 items/);
    expect(ids(r).sort()).toEqual(["f", "g", "h"]);
    const short = await post(app, { history: ["a", "b"] });
    expect(short.json().warnings).toBeUndefined();
    expect(short.json().historyUsed).toBe(2);
  });

  it.each([
    [{}, "history"],
    [{ history: [] }, "history"],
    [{ history: "a" }, "history"],
    [{ history: ["a", true] }, "history[1]"],
    [{ history: [{ id: "a" }] }, "history[0]"],
    [{ history: [{ title: "" }] }, "history[0]"],
    [{ history: [-1] }, "history[0]"],
    [{ history: [1.5] }, "history[0]"],
    [{ history: ["a"], k: "3" }, "k"],
    [{ history: ["a"], k: 0 }, "k"],
    [{ history: ["a"], k: LIMITS.k + 1 }, "k"],
    [{ history: ["a"], k: 2.5 }, "k"],
    [{ history: ["a"], excludeSeen: "yes" }, "excludeSeen"],
    [{ history: ["a"], rank: 1 }, "rank"],
    [{ history: ["a"], extra: 1 }, "extra"],
    [{ history: new Array(LIMITS.historyItems + 1).fill(1) }, "history"],
    [[1, 2], "body"],
  ])("refuses %j with 400 naming %s", async (payload, field) => {
    const r = await post(app, payload);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ statusCode: 400, code: "RECLM_ERR_BAD_REQUEST", error: "Bad Request", field });
  });

  it("refuses bodies that are not JSON, too large, or of another type", async () => {
    const bad = await app.inject({ method: "POST", url: "/v1/recommend", payload: '{"history": [', headers: { "content-type": "application/json" } });
    expect(bad.json()).toMatchObject({ statusCode: 400, field: "body" });
    const empty = await app.inject({ method: "POST", url: "/v1/recommend", payload: "", headers: { "content-type": "application/json" } });
    expect(empty.json()).toMatchObject({ statusCode: 400, field: "body" });
    const proto = await app.inject({ method: "POST", url: "/v1/recommend", payload: '{"history": ["a"], "__proto__": {"k": 1}}', headers: { "content-type": "application/json" } });
    expect(proto.json()).toMatchObject({ statusCode: 400, field: "body" });
    const huge = await app.inject({ method: "POST", url: "/v1/recommend", payload: JSON.stringify({ history: ["a"], pad: "x".repeat(LIMITS.bodyBytes) }), headers: { "content-type": "application/json" } });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ code: "RECLM_ERR_BODY_TOO_LARGE", field: "body" });
    const xml = await app.inject({ method: "POST", url: "/v1/recommend", payload: "<history/>", headers: { "content-type": "application/xml" } });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ code: "RECLM_ERR_UNSUPPORTED_MEDIA_TYPE", field: "content-type" });
  });

  it("refuses rank: true without a ranker, naming the field", async () => {
    const r = await post(app, { history: ["a"], rank: true });
    expect(r.json()).toMatchObject({ statusCode: 400, field: "rank", message: expect.stringContaining("--ranker") });
  });

  it("searches titles by every word, ignoring case and accents; no query lists the most popular", async () => {
    const r = await app.inject({ url: "/v1/items?query=RAY%20gam&limit=5" });
    expect(r.json().items.map((i: { id: string }) => i.id)).toEqual(["c"]);
    const accent = await app.inject({ url: "/v1/items?query=delta" });
    expect(accent.json().items.map((i: { title: string }) => i.title)).toEqual(["Délta (1993)"]);
    // Popularity over whole histories: b (users 1, 2, 3) and c (1, 2, 3) lead; ties by id.
    const pop = await app.inject({ url: "/v1/items?limit=2" });
    expect(pop.json().items.map((i: { id: string }) => i.id)).toEqual(["b", "c"]);
    const twins = await app.inject({ url: "/v1/items?query=twin" });
    expect(twins.json().items.map((i: { id: string }) => i.id)).toEqual(["f", "g"]);
  });

  it.each([
    ["/v1/items?limit=0", "limit"],
    ["/v1/items?limit=1e1", "limit"],
    ["/v1/items?limit=5&limit=6", "limit"],
    ["/v1/items?query=" + "x".repeat(LIMITS.queryChars + 1), "query"],
    ["/v1/items?color=red", "color"],
    ["/v1/users/u1/recommendations?k=-1", "k"],
    ["/v1/users/u1/recommendations?excludeSeen=1", "excludeSeen"],
    ["/v1/items/%zz", "url"],
  ])("refuses GET %s with 400 naming %s", async (url, field) => {
    const r = await app.inject({ url });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: "RECLM_ERR_BAD_REQUEST", field });
  });

  it("gets an item by its own id; an unknown id, user or route is a 404 naming it", async () => {
    expect((await app.inject({ url: "/v1/items/d" })).json()).toEqual({ id: "d", title: "Délta (1993)" });
    const missing = await app.inject({ url: "/v1/items/4" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: "RECLM_ERR_NOT_FOUND", field: "id", message: expect.stringContaining('"4"') });
    expect((await app.inject({ url: "/v1/users/u9/recommendations" })).json()).toMatchObject({ statusCode: 404, field: "id" });
    expect((await app.inject({ url: "/v2/anything" })).json()).toMatchObject({ statusCode: 404, field: "url" });
    expect((await app.inject({ method: "DELETE", url: "/v1/items/a" })).statusCode).toBe(404);
  });

  it("recommends for a user of the dataset from their whole history", async () => {
    const r = await app.inject({ url: "/v1/users/u2/recommendations?k=3&excludeSeen=true" });
    expect(r.statusCode).toBe(200);
    // u2: train 2,3,4,5 + val 6 + test 7.
    const history = Int32Array.of(2, 3, 4, 5, 6, 7);
    expect(ids(r)).toEqual(raw(referenceTopK(ScriptedRetriever.expected(history, 8), history, 3, true)));
    expect(r.json()).toMatchObject({ user: "u2", historyLength: 6, historyUsed: 3 });
  });

  it("publishes an OpenAPI document with every route and the error shape", async () => {
    const doc = (await app.inject({ url: "/openapi.json" })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(["/health", "/metrics", "/v1/items", "/v1/items/{id}", "/v1/recommend", "/v1/users/{id}/recommendations"]);
    expect(doc.components.schemas.ErrorResponse.required).toEqual(["statusCode", "code", "error", "message"]);
    expect(doc.paths["/v1/recommend"].post.requestBody.content["application/json"].schema.required).toEqual(["history"]);
    expect(Object.keys(doc.paths["/v1/recommend"].post.responses).sort()).toEqual(["200", "400", "413", "415", "503"]);
  });

  it("serves the web page and its script", async () => {
    const page = await app.inject({ url: "/" });
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.body).toContain('<script src="/app.js">');
    expect((await app.inject({ url: "/app.js" })).headers["content-type"]).toMatch(/javascript/);
  });

  it("exposes Prometheus histograms per route and stage", async () => {
    await post(app, { history: ["a"] });
    const text = (await app.inject({ url: "/metrics" })).body;
    for (const line of text.trim().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="[^"]*",?)+\})? [-+0-9.eInf]+)$/);
    expect(text).toMatch(/reclm_http_request_duration_seconds_count\{method="POST",route="\/v1\/recommend",status="200"\} \d+/);
    expect(text).toMatch(/reclm_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} \d+/);
    expect(text).toMatch(/reclm_stage_duration_seconds_bucket\{stage="retrieve",le="\+Inf"\} \d+/);
    expect(text).toMatch(/reclm_stage_duration_seconds_count\{stage="queue"\} \d+/);
    // Cumulative buckets never decrease.
    const buckets = [...text.matchAll(/reclm_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/recommend",status="200",le="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
    expect(buckets.length).toBeGreaterThan(3);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });
});

describe("serve: the ranker re-orders the retriever's top candidates", () => {
  it("answers the ranker's order, the retriever's list beside it, and the rank stage's time", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const ranker = lowIdsFirstRanker();
    const app = await buildApp({ models: { dataset: ds, retriever, ranker }, candidates: 4 });
    try {
      const warmUp = retriever.batches.length;
      const r = await post(app, { history: ["a", "b"], k: 3, rank: true });
      expect(r.statusCode).toBe(200);
      const body = r.json();
      const history = Int32Array.of(1, 2);
      const top = referenceTopK(ScriptedRetriever.expected(history, 8), history, 4, true);
      expect(Array.from(ranker.calls[0])).toEqual(top);
      expect(body.items.map((i: { id: string }) => i.id)).toEqual([...top].sort((a, b) => a - b).slice(0, 3).map((i) => ds.catalog.items[i].rawId));
      expect(body.retrieved.map((i: { id: string }) => i.id)).toEqual(top.slice(0, 3).map((i) => ds.catalog.items[i].rawId));
      expect(body.ranker).toBe("low-ids-first");
      expect(body.timings.rankMs).toEqual(expect.any(Number));
      // One forward for retrieval and ranking both: the row scored in the batch is reused.
      expect(retriever.batches).toHaveLength(warmUp + 1);
      expect((await app.inject({ url: "/metrics" })).body).toMatch(/reclm_stage_duration_seconds_count\{stage="rank"\} 1/);
      const plain = await post(app, { history: ["a", "b"], k: 3 });
      expect(plain.json().retrieved).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});

describe("serve: fusion", () => {
  it("answers the retriever's order at fusion weight 1 and says the weight in /health; refuses a weight outside [0, 1]", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const app = await buildApp({ models: { dataset: ds, retriever, ranker: lowIdsFirstRanker() }, candidates: 4, fusionWeight: 1 });
    try {
      const body = (await post(app, { history: ["a", "b"], k: 3, rank: true })).json();
      expect(body.items.map((i: { id: string }) => i.id)).toEqual(body.retrieved.map((i: { id: string }) => i.id));
      expect((await app.inject({ url: "/health" })).json()).toMatchObject({ status: "ok", fusionWeight: 1 });
    } finally {
      await app.close();
    }
    await expect(buildApp({ models: { dataset: ds, retriever, ranker: lowIdsFirstRanker() }, fusionWeight: 2 })).rejects.toThrow(/fusionWeight must be a number in \[0, 1\]/);
  });
});

describe("serve: loading", () => {
  it("answers 503 with Retry-After until the models are loaded, then 200", async () => {
    const ds = tinyDataset();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const app = await buildApp({ models: gate.then(() => ({ dataset: ds, retriever: new ScriptedRetriever(8) })) });
    try {
      const before = await app.inject({ url: "/health" });
      expect(before.statusCode).toBe(503);
      expect(before.json()).toEqual({ status: "loading" });
      const rec = await post(app, { history: ["a"] });
      expect(rec.statusCode).toBe(503);
      expect(rec.headers["retry-after"]).toBe("1");
      expect(rec.json().code).toBe("RECLM_ERR_NOT_READY");
      release();
      await gate;
      await new Promise((r) => setTimeout(r, 20));
      const after = await app.inject({ url: "/health" });
      expect(after.statusCode).toBe(200);
      expect(after.json()).toMatchObject({ status: "ok", dataset: "tiny", items: 8, model: "scripted" });
    } finally {
      await app.close();
    }
  });

  it("says why when loading failed", async () => {
    const app = await buildApp({ models: Promise.reject(new Error("model file is corrupt")) });
    try {
      await new Promise((r) => setTimeout(r, 10));
      const h = await app.inject({ url: "/health" });
      expect(h.statusCode).toBe(503);
      expect(h.json()).toEqual({ status: "failed", message: "model file is corrupt" });
      expect((await post(app, { history: ["a"] })).json().message).toMatch(/failed to load: model file is corrupt/);
    } finally {
      await app.close();
    }
  });
});

describe("serve: a real dataset and baseline", () => {
  let ds: SequenceDataset;
  let app: FastifyInstance;
  beforeAll(async () => {
    ds = await loadDataset("embedded");
    app = await buildApp({ models: { dataset: ds, retriever: createBaseline("cooc", ds, { split: "test" }) } });
  });
  afterAll(() => app.close());

  it("gives the user's recommendations the cooc model gives to their whole history", async () => {
    const u = 7;
    const history = Int32Array.from([...ds.train[u], ds.val[u], ds.test[u]]);
    const ref = createBaseline("cooc", ds, { split: "test" });
    const row = await ref.scoreAll([history]);
    const want = referenceTopK(row, history, 10, true).map((i) => ds.catalog.items[i].rawId);
    const r = await app.inject({ url: `/v1/users/${ds.users[u]}/recommendations` });
    expect(ids(r)).toEqual(want);
    const same = await post(app, { history: Array.from(history, (i) => ds.catalog.items[i].rawId) });
    expect(ids(same)).toEqual(want);
  });
});
