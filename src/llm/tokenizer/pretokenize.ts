/**
 * GPT-2 pre-tokenization exactly as llama.cpp runs it for `tokenizer.ggml.pre` = "trillion" (and every other name
 * that selects GPT-2's regex):
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * llama.cpp does not run that regex: it recognizes the pattern and runs a hand-written scanner
 * (unicode.cpp, unicode_regex_split_custom_gpt2) over its own Unicode table. This is that scanner, line for line, over
 * the same table (llamacpp-unicode.ts), so a word boundary never depends on the Unicode version Node's ICU has.
 */
import { LLAMACPP_CLASS_RUNS, LLAMACPP_WHITESPACE } from "./llamacpp-unicode.ts";

const OTHER = 0;
const LETTER = 1;
const NUMBER = 2;
const WHITESPACE = 3;
/** Past either end of the text: llama.cpp's empty flags, which no branch of the scanner accepts. */
const OUTSIDE = 4;

let classes: Uint8Array | undefined;

/** The class of every code point (1.1 MB, built once on first use). */
function codePointClasses(): Uint8Array {
  if (classes) return classes;
  const table = new Uint8Array(0x110000);
  let start = 0;
  let cls = OTHER;
  for (const run of LLAMACPP_CLASS_RUNS.split(",")) {
    const next = start + parseInt(run.slice(0, -1), 36);
    table.fill(cls, start, next);
    start = next;
    cls = Number(run.at(-1));
  }
  table.fill(cls, start);
  for (const c of LLAMACPP_WHITESPACE) table[c] = WHITESPACE;
  classes = table;
  return table;
}

/** A text as code points, with where each one starts in the JS string (one more entry: the string's length). */
export interface CodePoints {
  cps: Uint32Array;
  /** UTF-16 index of code point i; at[n] = text.length. */
  at: Uint32Array;
  n: number;
}

/**
 * Code points of `text`. A lone surrogate stays one code point (class "other", like the U+FFFD that llama.cpp gets
 * for it once the string is UTF-8), and is encoded as U+FFFD by `utf8Bytes`.
 */
export function codePoints(text: string): CodePoints {
  const cps = new Uint32Array(text.length);
  const at = new Uint32Array(text.length + 1);
  let n = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.codePointAt(i)!;
    at[n] = i;
    cps[n++] = c;
    i += c > 0xffff ? 2 : 1;
  }
  at[n] = text.length;
  return { cps, at, n };
}

/**
 * Word boundaries of `text` (code point indices: word k spans ends[k-1]..ends[k], ends[-1] = 0), as llama.cpp's
 * unicode_regex_split_custom_gpt2 finds them.
 */
export function gpt2WordEnds(cp: CodePoints): number[] {
  const { cps, n } = cp;
  const table = codePointClasses();
  const cls = (pos: number): number => (pos < n ? table[cps[pos]] : OUTSIDE);
  const ends: number[] = [];
  let prevEnd = 0;
  const add = (end: number): number => {
    const len = end - prevEnd;
    if (len > 0) ends.push(end);
    prevEnd = end;
    return len;
  };
  const APOS = 0x27;
  const SPACE = 0x20;

  for (let pos = 0; pos < n; ) {
    const cpt = cps[pos];
    // 's|'t|'re|'ve|'m|'ll|'d
    if (cpt === APOS && pos + 1 < n) {
      const next = cps[pos + 1];
      if (next === 0x73 || next === 0x74 || next === 0x6d || next === 0x64) {
        pos += add(pos + 2);
        continue;
      }
      if (pos + 2 < n) {
        const next2 = cps[pos + 2];
        if ((next === 0x72 && next2 === 0x65) || (next === 0x76 && next2 === 0x65) || (next === 0x6c && next2 === 0x6c)) {
          pos += add(pos + 3);
          continue;
        }
      }
    }
    let c2 = cpt === SPACE ? cls(pos + 1) : cls(pos);
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one class
    if (c2 === LETTER || c2 === NUMBER || c2 === OTHER) {
      const run = c2;
      if (cpt === SPACE) pos++;
      while (c2 === run) c2 = cls(++pos);
      add(pos);
      continue;
    }
    let spaces = 0;
    while (cls(pos + spaces) === WHITESPACE) spaces++;
    // \s+(?!\S): a run of whitespace before more text leaves its last character to the next word
    if (spaces > 1 && pos + spaces < n) {
      pos += spaces - 1;
      add(pos);
      continue;
    }
    // \s+
    if (spaces > 0) {
      pos += spaces;
      add(pos);
      continue;
    }
    add(++pos);
  }
  return ends;
}

/** The pre-tokens ("words") of `text`, in order; BPE merges never cross their boundaries. */
export function preTokenize(text: string): string[] {
  const cp = codePoints(text);
  const words: string[] = [];
  let start = 0;
  for (const end of gpt2WordEnds(cp)) {
    words.push(text.slice(cp.at[start], cp.at[end]));
    start = end;
  }
  return words;
}

/** UTF-8 bytes of code points cps[from..to); a lone surrogate becomes U+FFFD (what llama.cpp receives for it). */
export function utf8Bytes(cps: Uint32Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array((to - from) * 4);
  let k = 0;
  for (let i = from; i < to; i++) {
    let c = cps[i];
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out[k++] = c;
    else if (c < 0x800) {
      out[k++] = 0xc0 | (c >> 6);
      out[k++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[k++] = 0xe0 | (c >> 12);
      out[k++] = 0x80 | ((c >> 6) & 0x3f);
      out[k++] = 0x80 | (c & 0x3f);
    } else {
      out[k++] = 0xf0 | (c >> 18);
      out[k++] = 0x80 | ((c >> 12) & 0x3f);
      out[k++] = 0x80 | ((c >> 6) & 0x3f);
      out[k++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, k);
}
