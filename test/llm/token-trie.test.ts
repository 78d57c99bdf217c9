import { describe, expect, it } from "vitest";
import { TokenTrie } from "../../src/llm/token-trie.ts";

describe("TokenTrie", () => {
  it("holds each sequence once, with an end marker, so a prefix of another sequence may stop where it ends", () => {
    const trie = TokenTrie.from([[5, 6, 7], [5, 6], [9], [5, 6, 7], [5, 8]]);
    expect(trie.size).toBe(4);
    expect(trie.depth).toBe(3);
    expect(trie.sequences()).toEqual([[5, 6], [5, 6, 7], [5, 8], [9]]);
    expect(trie.has([5, 6])).toBe(true);
    expect(trie.has([5])).toBe(false); // a prefix only: no end marker
    expect(trie.has([5, 6, 7, 8])).toBe(false);
    expect([...trie.walk([5])!.children.keys()]).toEqual([6, 8]);
    expect(trie.walk([5, 6])!.end).toBe(true);
    expect(trie.walk([6])).toBeUndefined();
  });

  it("refuses no sequences, an empty sequence and non-token values, naming the sequence", () => {
    expect(() => TokenTrie.from([])).toThrow(/at least one sequence/);
    expect(() => TokenTrie.from([[1], []])).toThrow(/sequence 1 is empty/);
    expect(() => TokenTrie.from([[1, -2]])).toThrow(/sequence 0 holds -2/);
    expect(() => TokenTrie.from([[1.5]])).toThrow(/sequence 0 holds 1\.5/);
  });
});
