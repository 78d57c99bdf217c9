/** The short form of the service fuzz (bench/serve-fuzz.ts runs the long one): malformed requests on every route. */
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { createBaseline } from "../../src/models/registry.ts";
import { buildApp } from "../../src/serve/app.ts";
import { fuzzApp } from "./fuzz-requests.ts";

describe("serve fuzz (fast-check)", () => {
  it("answers 600 malformed requests with a 2xx or a documented 4xx naming the field, never a 5xx", async () => {
    const ds = await loadDataset("embedded");
    const app = await buildApp({ models: { dataset: ds, retriever: createBaseline("cooc", ds, { split: "test" }) } });
    try {
      const tally = await fuzzApp(app, 600, 24);
      expect(tally.breaches.slice(0, 5)).toEqual([]);
      expect(tally.requests).toBe(600);
      // The generator reaches refusals of every kind, not only one.
      for (const status of ["400", "404", "413", "415"]) expect(tally.byStatus[status] ?? 0, `status ${status}: ${JSON.stringify(tally.byStatus)}`).toBeGreaterThan(0);
      expect(tally.byStatus["200"] ?? 0).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });
});
