/** The web page end to end in a real headless Chromium: search, build a history of three titles, see both columns change. */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { createBaseline } from "../../src/models/registry.ts";
import { buildApp } from "../../src/serve/app.ts";
import { findChromium, launchChromium } from "../helpers/browser.ts";
import { lowIdsFirstRanker } from "./fixtures.ts";

const chromium = findChromium();
if (!chromium) console.warn("test/serve/page.test.ts: skipped, no Chromium (apt-get install chromium, or set RECLM_CHROMIUM to a Chromium binary)");

describe.skipIf(!chromium)("web page in headless Chromium", () => {
  let app: FastifyInstance;
  let url: string;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    const ds = await loadDataset("embedded");
    app = await buildApp({ models: { dataset: ds, retriever: createBaseline("cooc", ds, { split: "test" }), ranker: lowIdsFirstRanker() } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    chrome = await launchChromium(chromium!);
  });
  afterAll(async () => {
    await chrome?.close();
    await app?.close();
  });

  it("searches, adds three titles, and shows the retriever's and the ranker's lists change", async () => {
    const page = await chrome.browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${url}/`);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.$eval("#status", (e) => e.textContent)).toMatch(/embedded .* retriever cooc · ranker low-ids-first/);

    const lists: string[][] = [];
    for (const [query, want] of [["quiet", /quiet/i], ["harbor", /harbor/i], ["shining", /shining/i]] as const) {
      await page.$eval("#search", (e) => ((e as HTMLInputElement).value = ""));
      await page.type("#search", query);
      await page.waitForFunction((q) => [...document.querySelectorAll("#results button")].length > 0 && [...document.querySelectorAll("#results button")].every((b) => b.textContent!.toLowerCase().includes(q)), {}, query);
      const title = await page.$eval("#results button:not([disabled])", (b) => b.textContent!);
      expect(title).toMatch(want);
      const seen = await page.$eval("body", (b) => b.dataset.recommendations ?? "0");
      await page.click("#results button:not([disabled])");
      await page.waitForFunction((s) => (document.body.dataset.recommendations ?? "0") !== s, {}, seen);
      expect(await page.$$eval("#history li", (li) => li.length)).toBe(lists.length + 1);
      lists.push(await page.$$eval("#retrieved li", (li) => li.map((e) => e.dataset.id!)));
    }
    expect(lists.every((l) => l.length === 10)).toBe(true);
    expect(lists[1]).not.toEqual(lists[0]);
    expect(lists[2]).not.toEqual(lists[1]);
    // The ranker column re-orders the retriever's top 20: this fake ranker puts low ids first.
    const ranked = await page.$$eval("#ranked li", (li) => li.map((e) => Number(e.dataset.id)));
    expect(ranked).toHaveLength(10);
    expect(ranked).toEqual([...ranked].sort((a, b) => a - b));
    expect(await page.$eval("#latency", (e) => e.textContent)).toMatch(/ms round trip · server [\d.]+ ms: queue [\d.]+, retrieve [\d.]+, rank [\d.]+/);
    expect(await page.$eval("#no-ranker", (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(errors).toEqual([]);
  });
});
