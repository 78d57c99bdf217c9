/** Title normalisation used by the protocols. */

/**
 * LlamaRec's MovieLens title cleaning (datasets/ml_100k.py), reproduced exactly so prompts match the paper:
 * 1. cut the LAST 7 characters as the year part (" (1995)"); this is blind slicing: a title without a year is
 *    cut too, but since the parts are glued back at the end such titles usually come out unchanged;
 * 2. delete every non-greedy "(...)" group from the first part (so for nested parens "A (b (c) d)" only "(b (c)"
 *    goes and " d)" stays), then trim;
 * 3. if ", a" / ", an" / ", the" occurs (case-insensitively) within the last 5 characters, move the text after
 *    the last ", " to the front: "Usual Suspects, The" -> "The Usual Suspects";
 * 4. re-append the year part.
 * Python's str.strip() trims Unicode whitespace, as String.prototype.trim does.
 */
export function cleanMovieLensTitle(raw: string): string {
  const chars = Array.from(raw); // Python slices by code point, not UTF-16 unit
  const cut = Math.max(0, chars.length - 7);
  let title = chars.slice(0, cut).join("");
  const year = chars.slice(cut).join("");
  title = title.replace(/\([^\n]*?\)/g, "").trim();
  const tail = Array.from(title.toLowerCase()).slice(-5).join("");
  if ([", a", ", an", ", the"].some((x) => tail.includes(x))) {
    const parts = title.split(", ");
    const post = parts[parts.length - 1];
    const pre = parts.slice(0, -1).join(", ");
    title = `${post} ${pre}`;
  }
  return title + year;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", reg: "\u00ae", trade: "\u2122",
  copy: "\u00a9", eacute: "\u00e9", egrave: "\u00e8", aacute: "\u00e1", agrave: "\u00e0", ouml: "\u00f6",
  uuml: "\u00fc", auml: "\u00e4", szlig: "\u00df", ntilde: "\u00f1", ccedil: "\u00e7", hellip: "\u2026",
  ndash: "\u2013", mdash: "\u2014", lsquo: "\u2018", rsquo: "\u2019", ldquo: "\u201c", rdquo: "\u201d",
  deg: "\u00b0", frac12: "\u00bd", times: "\u00d7", iacute: "\u00ed", oacute: "\u00f3", uacute: "\u00fa",
};

/** Decodes numeric (&#39; &#x27;) and common named HTML entities; unknown names stay as written. */
export function decodeHtmlEntities(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z][a-zA-Z0-9]{1,15});/g, (whole, body: string) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/** Amazon titles for prompts: entities decoded, tabs/newlines turned into spaces, trimmed. */
export function cleanAmazonTitle(raw: string): string {
  return decodeHtmlEntities(raw).replace(/[\t\r\n]+/g, " ").trim();
}
