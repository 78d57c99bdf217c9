/**
 * The README's picture of the web page: a real dataset and model served in-process, a history of three titles built
 * by searching and clicking in headless Chromium, then a screenshot.
 *   npx tsx bench/serve-screenshot.ts --dataset ml-latest-small --model /work/runs/serve-lrurec \
 *     --queries "toy story,matrix,fellowship" --out docs/serve-page.png
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/index.ts";
import { writeFileAtomic } from "../src/io.ts";
import { resolveModel } from "../src/models/resolve.ts";
import { buildApp } from "../src/serve/app.ts";
import { findChromium, launchChromium } from "../test/helpers/browser.ts";

const { values } = parseArgs({
  options: {
    dataset: { type: "string", default: "ml-latest-small" },
    model: { type: "string", default: "cooc" },
    queries: { type: "string", default: "toy story,matrix,fellowship" },
    out: { type: "string", default: "docs/serve-page.png" },
    threads: { type: "string", default: "1" },
  },
});
const chromium = findChromium();
if (!chromium) throw new Error("no Chromium: apt-get install chromium, or set RECLM_CHROMIUM");
const ds = await loadDataset(values.dataset!);
const retriever = await resolveModel(values.model!, ds, { split: "test", threads: Number(values.threads) });
const app = await buildApp({ models: { dataset: ds, retriever } });
await app.listen({ host: "127.0.0.1", port: 0 });
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const chrome = await launchChromium(chromium);
try {
  const page = await chrome.browser.newPage();
  await page.setViewport({ width: 1280, height: 600 });
  await page.goto(`${url}/`);
  await page.waitForSelector("body[data-ready=true]");
  for (const q of values.queries!.split(",")) {
    await page.$eval("#search", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("#search", q);
    // Wait for this query's results (the list shows the popular titles until the debounced search answers).
    await page.waitForFunction((s) => {
      const found = [...document.querySelectorAll("#results button")];
      return found.length > 0 && found.every((b) => s.split(" ").every((w) => b.textContent!.toLowerCase().includes(w)));
    }, {}, q.toLowerCase());
    const seen = await page.$eval("body", (b) => b.dataset.recommendations ?? "0");
    await page.click("#results button:not([disabled])");
    await page.waitForFunction((s) => (document.body.dataset.recommendations ?? "0") !== s, {}, seen);
  }
  await page.$eval("#search", (e) => ((e as HTMLInputElement).value = ""));
  await page.type("#search", "star wars");
  await page.waitForFunction(() => [...document.querySelectorAll("#results button")].every((b) => b.textContent!.toLowerCase().includes("star wars")));
  const png = await page.screenshot({ fullPage: false });
  console.log(`wrote ${writeFileAtomic(values.out!, png)}`);
} finally {
  await chrome.close();
  await app.close();
}
