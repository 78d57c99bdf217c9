import { describe, expect, it } from "vitest";
import { cleanAmazonTitle, cleanMovieLensTitle, decodeHtmlEntities } from "../../src/data/index.ts";

describe("cleanMovieLensTitle (LlamaRec datasets/ml_100k.py, exactly)", () => {
  it.each([
    ["Toy Story (1995)", "Toy Story (1995)"],
    ["Usual Suspects, The (1995)", "The Usual Suspects (1995)"],
    ["Time to Kill, A (1996)", "A Time to Kill (1996)"],
    ["Affair to Remember, An (1957)", "An Affair to Remember (1957)"],
    // Any other "(...)" group goes (the a.k.a. / original-language titles), then the article moves.
    ["City of Lost Children, The (Cité des enfants perdus, La) (1995)", "The City of Lost Children (1995)"],
    ["Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)", "Shanghai Triad (1995)"],
    ["Seven (a.k.a. Se7en) (1995)", "Seven (1995)"],
    // Nested parens: the non-greedy regex removes "(a (b)" and leaves " c)".
    ["Foo (a (b) c) (1990)", "Foo  c) (1990)"],
    // Articles only move when they end the title (within its last 5 characters).
    ["Good, the Bad and the Ugly, The (1966)", "The Good, the Bad and the Ugly (1966)"],
    ["Love, Actually (2003)", "Love, Actually (2003)"],
    // No year: the 7-character cut is blind but the pieces are glued back together.
    ["Babylon 5", "Babylon 5"],
    ["Cosmos", "Cosmos"],
    // ... except when the cut falls just after a space, which strip() removes (LlamaRec's own output).
    ["Nocturnal Animals", "NocturnalAnimals"],
    ["Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto (2006–2007)"],
  ])("%s -> %s", (raw, expected) => {
    expect(cleanMovieLensTitle(raw)).toBe(expected);
  });

  it("slices by code point like Python", () => {
    expect(cleanMovieLensTitle("Emoji 😀 Movie (2001)")).toBe("Emoji 😀 Movie (2001)");
  });
});

describe("Amazon titles", () => {
  it("decodes entities, flattens whitespace, trims", () => {
    expect(cleanAmazonTitle("  Salt &amp; Pepper\tSet\n2 &#39;pcs&#x27; &copy; &bogus; ")).toBe("Salt & Pepper Set 2 'pcs' © &bogus;");
    expect(decodeHtmlEntities("&#0; &#xD800; &lt;b&gt;")).toBe("&#0; &#xD800; <b>");
  });
});
