/**
 * reclm's byte-level BPE tokenizer on a dataset's text: training time for vocabularies of 4k/8k/16k tokens and
 * encoding speed. The corpus is what a per-dataset LM would read: one line per item (title, then its genres) and one
 * text per user (the titles of the user's training history, one per line). Run from the project root:
 *   RECLM_SHARED=/work/shared npx tsx bench/bpe-tokenizer.ts [--datasets ml-latest-small,beauty]
 * A third corpus, "synthetic-words", is 2 MB of random words (about 200k distinct ones, where the datasets have a few
 * ten thousand): the trainer's cost follows distinct words, not megabytes.
 * Writes bench/results/bpe-tokenizer.json. A vocabulary stops short of its size when no pair is seen twice any more
 * (vocab_size says where: ml-latest-small's titles run out near 8.5k).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { ByteLevelBpe, preTokenize, trainByteLevelBpe } from "../src/llm/tokenizer/index.ts";
import { sharedDir } from "../src/paths.ts";
import { Rng } from "../src/rng.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: args } = parseArgs({ options: { datasets: { type: "string", default: "ml-latest-small,beauty" } } });
const rows: BenchRow[] = [];
const inputs: string[] = [];
const mb = (texts: string[]) => texts.reduce((n, t) => n + Buffer.byteLength(t), 0) / 2 ** 20;

/** Item lines and user histories (the texts encoding is timed on) of a dataset. */
async function datasetCorpus(dataset: string) {
  const ds = await loadDataset(dataset);
  const titles = ds.catalog.items.map((it) => it.title);
  const itemLines = ds.catalog.items.slice(1).map((it) => [it.title, ...Object.values(it.attributes ?? {}).flat()].join("\n"));
  const histories = ds.train.map((seq) => Array.from(seq, (i) => titles[i]).join("\n"));
  const def = findDataset(dataset);
  const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
  if (def) inputs.push(...def.inputFiles(ds.protocol, { dataDir: folder }));
  const what = "item title + attributes, user training histories as titles";
  return { dataset, protocol: ds.protocol, corpus: [...itemLines, ...histories], encoded: histories, what, encodedWhat: `the ${histories.length} histories` };
}

function syntheticCorpus() {
  const rng = new Rng(7);
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  const lines: string[] = [];
  for (let l = 0; l < 20_000; l++) {
    const words: string[] = [];
    for (let w = 0; w < 12; w++) {
      let word = "";
      // Skewed letters (min of two draws) so that some pairs are frequent, as in real text.
      for (let k = rng.int(3, 12); k > 0; k--) word += letters[Math.min(rng.int(0, 26), rng.int(0, 26))];
      words.push(word);
    }
    lines.push(words.join(" "));
  }
  return { dataset: "synthetic-words", protocol: "random", corpus: lines, encoded: lines, what: "random words", encodedWhat: "the same lines" };
}

const corpora = [];
for (const dataset of args.datasets!.split(",")) corpora.push(await datasetCorpus(dataset));
corpora.push(syntheticCorpus());
for (const { dataset, protocol, corpus, encoded: histories, what, encodedWhat } of corpora) {
  const corpusMb = mb(corpus);
  const distinctWords = new Set(corpus.flatMap((t) => preTokenize(t))).size;
  process.stderr.write(`${dataset}/${protocol}: ${corpus.length} texts, ${corpusMb.toFixed(2)} MB, ${distinctWords} distinct words\n`);

  for (const vocabSize of [4096, 8192, 16384]) {
    const t0 = performance.now();
    const vocab = trainByteLevelBpe(corpus, { vocabSize });
    const trainS = (performance.now() - t0) / 1000;
    const bpe = new ByteLevelBpe(vocab);
    // Cold: the first pass merges every distinct word once; warm: the per-word cache answers (best of 3 passes).
    const time = (pass: () => void) => {
      const t = performance.now();
      pass();
      return (performance.now() - t) / 1000;
    };
    let encoded: number[][] = [];
    const coldS = time(() => (encoded = histories.map((text) => bpe.encode(text))));
    const tokens = encoded.reduce((n, ids) => n + ids.length, 0);
    const warmS = Math.min(...[0, 1, 2].map(() => time(() => histories.forEach((text) => bpe.encode(text)))));
    const decodeS = Math.min(...[0, 1, 2].map(() => time(() => encoded.forEach((ids) => bpe.decode(ids)))));
    const historyMb = mb(histories);
    rows.push({
      method: "reclm-bpe",
      dataset,
      protocol,
      variant: { vocabSize },
      // The size a per-dataset LM would start from.
      headline: vocabSize === 8192,
      metrics: {
        vocab_size: vocab.tokens.length,
        train_s: +trainS.toFixed(3),
        corpus_mb: +corpusMb.toFixed(3),
        distinct_words: distinctWords,
        tokens_per_s: Math.round(tokens / warmS),
        cold_tokens_per_s: Math.round(tokens / coldS),
        decode_tokens_per_s: Math.round(tokens / decodeS),
        bytes_per_token: +((historyMb * 2 ** 20) / tokens).toFixed(3),
      },
      notes: `train on ${corpus.length} texts (${corpusMb.toFixed(2)} MB: ${what}); encode/decode ${encodedWhat} (${historyMb.toFixed(2)} MB), one thread`,
    });
  }
}
writeBenchResult({
  benchmark: "bpe-tokenizer",
  command: `RECLM_SHARED=/work/shared npx tsx bench/bpe-tokenizer.ts --datasets ${args.datasets}`,
  inputs,
  rows,
});
