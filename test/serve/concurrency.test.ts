/** Batching of concurrent requests, the bounded queue, per-request timeouts, and a stop that finishes what is in flight. */
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { ScoreBatcher } from "../../src/serve/batcher.ts";
import { buildApp } from "../../src/serve/app.ts";
import { ReclmError } from "../../src/errors.ts";
import { referenceTopK, ScriptedRetriever, tinyDataset } from "./fixtures.ts";

const RAW = ["", "a", "b", "c", "d", "e", "f", "g", "h"];

describe("ScoreBatcher", () => {
  it("puts concurrent histories into one forward and gives each its own row", async () => {
    const model = new ScriptedRetriever(8);
    const b = new ScoreBatcher(model, { maxBatch: 8, windowMs: 5 });
    const hs = [1, 2, 3, 4, 5].map((i) => Int32Array.of(i));
    const rows = await Promise.all(hs.map((h) => b.score(h)));
    expect(model.batches).toHaveLength(1);
    expect(model.batches[0].map((h) => h[0])).toEqual([1, 2, 3, 4, 5]);
    rows.forEach((r, i) => {
      expect(Array.from(r.row)).toEqual(Array.from(ScriptedRetriever.expected(hs[i], 8)));
      expect(r.batchSize).toBe(5);
    });
  });

  it("caps a forward at maxBatch and queues the rest for the next one", async () => {
    const model = new ScriptedRetriever(8);
    model.delayMs = 20;
    const b = new ScoreBatcher(model, { maxBatch: 3, windowMs: 1 });
    await Promise.all(Array.from({ length: 7 }, (_, i) => b.score(Int32Array.of(1 + (i % 8)))));
    expect(model.batches.map((x) => x.length)).toEqual([3, 3, 1]);
  });

  it("refuses at once when the queue is full, and never runs two forwards at a time", async () => {
    const model = new ScriptedRetriever(8);
    model.delayMs = 30;
    let running = 0;
    let most = 0;
    const inner = model.scoreAll.bind(model);
    model.scoreAll = async (h) => {
      most = Math.max(most, ++running);
      try {
        return await inner(h);
      } finally {
        running--;
      }
    };
    const b = new ScoreBatcher(model, { maxBatch: 2, maxQueue: 3, windowMs: 0 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => b.score(Int32Array.of(1 + i))));
    const refused = results.filter((r) => r.status === "rejected");
    // 3 queued at once; the first forward takes 2 of them only after the window, so 5 of the 8 are refused.
    expect(refused).toHaveLength(5);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "RECLM_ERR_OVERLOADED", statusCode: 503 });
    expect(most).toBe(1);
  });

  it("lets the event loop read sockets between slow forwards, so a backlog is seen (and shed), not left unread", async () => {
    const model = new ScriptedRetriever(8);
    const events: string[] = [];
    const inner = model.scoreAll.bind(model);
    model.scoreAll = async (h) => {
      events.push("forward");
      setImmediate(() => events.push("io")); // stands for the I/O a forward holds up
      const until = performance.now() + 8; // a CPU forward longer than the slice holds the loop
      while (performance.now() < until);
      return inner(h);
    };
    const b = new ScoreBatcher(model, { maxBatch: 1, sliceMs: 5 });
    await Promise.all([1, 2, 3].map((i) => b.score(Int32Array.of(i))));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(["forward", "io", "forward", "io", "forward", "io"]);
  });

  it("runs fast forwards back to back within one slice", async () => {
    const model = new ScriptedRetriever(8);
    const events: string[] = [];
    const inner = model.scoreAll.bind(model);
    model.scoreAll = async (h) => {
      events.push("forward");
      setImmediate(() => events.push("io"));
      return inner(h);
    };
    const b = new ScoreBatcher(model, { maxBatch: 1, sliceMs: 1000 });
    await Promise.all([1, 2, 3].map((i) => b.score(Int32Array.of(i))));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(["forward", "forward", "forward", "io", "io", "io"]);
  });

  it("drops a queued history whose request gave up, without computing it", async () => {
    const model = new ScriptedRetriever(8);
    model.delayMs = 30;
    const b = new ScoreBatcher(model, { maxBatch: 1, windowMs: 0 });
    const first = b.score(Int32Array.of(1));
    const ac = new AbortController();
    const second = b.score(Int32Array.of(2), ac.signal);
    ac.abort(new ReclmError("RECLM_ERR_TIMEOUT", "gave up"));
    await expect(second).rejects.toMatchObject({ code: "RECLM_ERR_TIMEOUT" });
    await first;
    await b.idle();
    expect(model.batches.map((x) => x[0][0])).toEqual([1]);
  });

  it("passes a model's failure to every request of its batch, and keeps serving", async () => {
    const model = new ScriptedRetriever(8);
    const b = new ScoreBatcher(model, { maxBatch: 4, windowMs: 2 });
    const orig = model.scoreAll.bind(model);
    model.scoreAll = async () => new Float32Array(5);
    const failed = await Promise.allSettled([b.score(Int32Array.of(1)), b.score(Int32Array.of(2))]);
    for (const f of failed) expect((f as PromiseRejectedResult).reason).toMatchObject({ code: "RECLM_ERR_SHAPE" });
    model.scoreAll = orig;
    await expect(b.score(Int32Array.of(3))).resolves.toMatchObject({ batchSize: 1 });
  });
});

describe("the app under concurrent requests", () => {
  it("batches concurrent /v1/recommend requests and answers each for its own history", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const app = await buildApp({ models: { dataset: ds, retriever }, batch: { maxBatch: 8, windowMs: 10 } });
    try {
      retriever.batches.length = 0;
      const replies = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => app.inject({ method: "POST", url: "/v1/recommend", payload: { history: [RAW[i]], k: 3 } })));
      expect(retriever.batches.length).toBeLessThan(6);
      replies.forEach((r, j) => {
        const h = Int32Array.of(j + 1);
        expect(r.json().items.map((x: { id: string }) => x.id)).toEqual(referenceTopK(ScriptedRetriever.expected(h, 8), h, 3, true).map((i) => RAW[i]));
      });
      expect(Math.max(...replies.map((r) => r.json().timings.batchSize))).toBeGreaterThan(1);
    } finally {
      await app.close();
    }
  });

  it("sheds load with 503 + Retry-After when the queue is full, and counts it", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const app = await buildApp({ models: { dataset: ds, retriever }, batch: { maxBatch: 1, maxQueue: 2, windowMs: 0 } });
    retriever.delayMs = 20;
    try {
      const replies = await Promise.all(Array.from({ length: 10 }, () => app.inject({ method: "POST", url: "/v1/recommend", payload: { history: ["a"] } })));
      const shed = replies.filter((r) => r.statusCode === 503);
      expect(shed.length).toBeGreaterThan(0);
      expect(replies.filter((r) => r.statusCode === 200).length).toBeGreaterThan(0);
      expect(shed.length + replies.filter((r) => r.statusCode === 200).length).toBe(10);
      for (const r of shed) {
        expect(r.headers["retry-after"]).toBe("1");
        expect(r.json()).toMatchObject({ code: "RECLM_ERR_OVERLOADED" });
      }
      expect((await app.inject({ url: "/metrics" })).body).toContain(`reclm_shed_total{reason="queue_full"} ${shed.length}`);
    } finally {
      await app.close();
    }
  });

  it("answers 503 RECLM_ERR_TIMEOUT when a request runs past its deadline", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const app = await buildApp({ models: { dataset: ds, retriever }, requestTimeoutMs: 40 });
    retriever.delayMs = 150;
    try {
      const t0 = performance.now();
      const r = await app.inject({ method: "POST", url: "/v1/recommend", payload: { history: ["a"] } });
      expect(performance.now() - t0).toBeLessThan(140);
      expect(r.statusCode).toBe(503);
      expect(r.headers["retry-after"]).toBe("1");
      expect(r.json()).toMatchObject({ code: "RECLM_ERR_TIMEOUT" });
    } finally {
      retriever.delayMs = 0;
      await app.close();
    }
  });

  it("finishes the requests in flight when stopped, refuses new connections, then disposes the model", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const app = await buildApp({ models: { dataset: ds, retriever }, batch: { maxBatch: 2, windowMs: 0 } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as { port: number };
    retriever.delayMs = 60;
    retriever.batches.length = 0;
    const inFlight = [1, 2, 3, 4, 5].map((i) =>
      fetch(`http://127.0.0.1:${port}/v1/recommend`, { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify({ history: [RAW[i]] }) }),
    );
    // Close once all five are in the server: in a forward or queued behind it.
    const inServer = async () => retriever.batches.flat().length + (await app.inject({ url: "/health" })).json().queueDepth;
    while ((await inServer()) < 5) await new Promise((r) => setTimeout(r, 2));
    const closing = app.close();
    const replies = await Promise.all(inFlight);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await closing;
    expect(retriever.disposed).toBe(true);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });

  it("answers a request that arrives on an open connection while it stops with 503 + Retry-After", async () => {
    const ds = tinyDataset();
    const retriever = new ScriptedRetriever(8);
    const app = await buildApp({ models: { dataset: ds, retriever } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as { port: number };
    retriever.delayMs = 80;
    retriever.batches.length = 0;
    // One connection: the first request is in flight when the server starts to stop; the second arrives after.
    const body = JSON.stringify({ history: ["a"] });
    const req = (close: boolean) => `POST /v1/recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${close ? "Connection: close\r\n" : ""}\r\n${body}`;
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (d) => (text += String(d)));
    const ended = new Promise((r) => socket.on("close", r));
    socket.write(req(false));
    while (retriever.batches.length === 0) await new Promise((r) => setTimeout(r, 5));
    const closing = app.close();
    await new Promise((r) => setTimeout(r, 20)); // close() runs its preClose hooks on a later tick
    socket.write(req(true));
    await ended;
    await closing;
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(["200", "503"]);
    expect(text).toMatch(/retry-after: 1/i);
    expect(text).toContain('"code":"RECLM_ERR_NOT_READY"');
  });
});
