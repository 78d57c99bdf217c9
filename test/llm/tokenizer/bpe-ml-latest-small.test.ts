import { dirname } from "node:path";
import { expect, it } from "vitest";
import { loadMlLatestSmall } from "../../../src/data/loaders/movielens.ts";
import { ByteLevelBpe, trainByteLevelBpe } from "../../../src/llm/tokenizer/index.ts";
import { expectLlamaCppParity, llamaCppWithVocab } from "../../helpers/bpe-llamacpp.ts";
import { describeWithShared } from "../../helpers/shared.ts";

describeWithShared("reclm's BPE vs llama.cpp on every ml-latest-small title", ["data", "ml-latest-small", "movies.csv"], (moviesCsv) => {
  it("a vocabulary trained on titles, genres and tags tokenizes all 9742 titles (and those texts) as llama.cpp does", async () => {
    const items = [...loadMlLatestSmall(dirname(moviesCsv)).items.values()];
    const titles = items.map((it) => it.title!);
    const genres = items.map((it) => [it.attributes?.genres ?? []].flat().join("|"));
    const tags = items.flatMap((it) => (it.text ? [it.text] : []));
    expect(titles).toHaveLength(9742);
    const vocab = trainByteLevelBpe([...titles, ...genres, ...tags], { vocabSize: 8192 });
    expect(vocab.tokens.length).toBe(8192);
    const cpp = await llamaCppWithVocab(vocab, "ml-latest-small");
    try {
      // One history-like text too: titles one per line, as a user's history reads.
      expectLlamaCppParity(cpp, new ByteLevelBpe(vocab), [...titles, ...new Set(genres), ...tags, titles.slice(0, 500).join("\n")]);
    } finally {
      await cpp.dispose();
    }
  }, 60_000);
});
