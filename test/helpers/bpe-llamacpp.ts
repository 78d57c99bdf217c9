import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { expect } from "vitest";
import { loadLlamaCppModel } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { bpeGgufMetadata, type BpeVocab, type ByteLevelBpe } from "../../src/llm/tokenizer/index.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-bpe-"));

/** A tiny random llama GGUF carrying `vocab`, loaded in llama.cpp (CPU): only its tokenizer matters here. */
export async function llamaCppWithVocab(vocab: BpeVocab, name: string): Promise<LlamaModel> {
  const file = join(dir, `${name}.gguf`);
  writeTinyLlamaGguf(file, { vocab: { tokens: vocab.tokens, metadata: bpeGgufMetadata(vocab) }, dim: 8, heads: 2, kvHeads: 1, ffnDim: 8, layers: 1 });
  return loadLlamaCppModel(file);
}

/**
 * Every text tokenizes to the same ids in llama.cpp (tokenize(text, false)) and in `bpe`, both detokenize the ids to
 * the same text, and that text is the input. Fails listing the first mismatches.
 */
export function expectLlamaCppParity(cpp: LlamaModel, bpe: ByteLevelBpe, texts: readonly string[]): void {
  const problems: string[] = [];
  for (const text of texts) {
    const theirs = cpp.tokenize(text, false).map(Number);
    const ours = bpe.encode(text);
    const show = JSON.stringify(text).slice(0, 120);
    if (theirs.length !== ours.length || theirs.some((t, i) => t !== ours[i])) problems.push(`${show}: llama.cpp ${JSON.stringify(theirs)} reclm ${JSON.stringify(ours)}`);
    const back = bpe.decode(ours);
    const theirBack = cpp.detokenize(theirs as never, false);
    if (back !== theirBack) problems.push(`${show}: llama.cpp detokenizes to ${JSON.stringify(theirBack)}, reclm to ${JSON.stringify(back)}`);
    if (back !== text) problems.push(`${show}: decode(encode(s)) = ${JSON.stringify(back)}`);
  }
  expect(problems.slice(0, 10), `${problems.length} problems over ${texts.length} texts`).toEqual([]);
}
