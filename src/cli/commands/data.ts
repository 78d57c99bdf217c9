import Table from "cli-table3";
import { Command } from "commander";
import { datasetStats, listDatasets } from "../../data/index.ts";
import { cacheDir } from "../../paths.ts";
import { datasetNameOrDefault, loadWithProgress, withDataFileOptions, withDatasetOptions, type DataFileOptions } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

export function dataCommand(): Command {
  const data = new Command("data").description("list, describe and prepare datasets");

  data
    .command("list")
    .description("datasets, their protocols, and whether their files are available here")
    .option("--json", "print JSON instead of a table")
    .action((opts: { json?: boolean }) => {
      const list = listDatasets();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const table = new Table({ head: ["dataset", "protocols", "default", "available", "description"], style: { head: [], border: [] } });
      for (const d of list) table.push([d.name, d.protocols.join(", "), d.defaultProtocol, d.available ? "yes" : "no", d.description]);
      process.stdout.write(`${table.toString()}\n`);
    });

  withDataFileOptions(data.command("stats"))
    .description("users, items, interactions, average length and density of a prepared dataset")
    .option("-d, --dataset <name>", "dataset name (see `reclm data list`); default: \"custom\" with --interactions, else \"embedded\"")
    .option("-p, --protocol <name>", "data protocol (default: the dataset's default)")
    .option("--json", "print JSON instead of a table")
    .action(async (opts: { dataset?: string; protocol?: string; json?: boolean } & DataFileOptions) => {
      const ds = await loadWithProgress(datasetNameOrDefault(opts), opts, createProgressReporter());
      const s = datasetStats(ds);
      const untitled = ds.untitledItems;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ dataset: ds.name, protocol: ds.protocol, ...s, ...(untitled ? { untitledItems: untitled } : {}) }, null, 2)}\n`);
        return;
      }
      const table = new Table({
        head: ["dataset", "protocol", "users", "items", "interactions", "avg length", "density"],
        style: { head: [], border: [] },
      });
      table.push([ds.name, ds.protocol, s.users, s.items, s.interactions, s.avgLength.toFixed(2), s.density.toExponential(2)]);
      process.stdout.write(`${table.toString()}\n`);
      if (untitled) {
        const examples = untitled.examples.map((id) => JSON.stringify(id)).join(", ");
        const fate = ds.protocol === "llamarec" ? "their rows were dropped" : "they show their raw id as title";
        process.stdout.write(`note: ${untitled.count} interaction item(s) have no title in ${opts.items ?? "the items file"} (e.g. ${examples}); ${fate}\n`);
      }
    });

  withDatasetOptions(data.command("prepare"))
    .description("build a dataset under a protocol and cache it (later loads read the cache)")
    .option("--refresh", "rebuild even when a cached copy exists")
    .action(async (opts: { dataset: string; protocol?: string; refresh?: boolean } & DataFileOptions) => {
      const started = Date.now();
      const ds = await loadWithProgress(opts.dataset, opts, createProgressReporter());
      const s = datasetStats(ds);
      process.stdout.write(
        `prepared ${ds.name} (protocol ${ds.protocol}): ${s.users} users, ${s.items} items, ${s.interactions} interactions ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)}s; cache: ${cacheDir()}\n`,
      );
    });

  return data;
}
