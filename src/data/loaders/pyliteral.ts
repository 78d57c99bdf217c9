/**
 * A parser for one Python literal, as found in the Amazon 2014 metadata and the Steam files (written with
 * Python's repr, read by the originals with eval/ast.literal_eval): dicts, lists, tuples (returned as arrays),
 * sets (arrays), single/double/triple-quoted strings with escapes and u/b/r prefixes, ints, floats, True/False/None.
 * JSON's true/false/null are accepted too, so JSON lines parse as well. It never evaluates code.
 */

export class PyLiteralError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`${message} (column ${column})`);
  }
}

export type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

export function parsePyLiteral(src: string): PyValue {
  const p = new Parser(src);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i < src.length) p.fail("unexpected text after the value");
  return v;
}

const MAX_DEPTH = 200;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(msg: string): never {
    throw new PyLiteralError(msg, this.i + 1);
  }

  ws(): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.i++;
      else break;
    }
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    const c = this.s[this.i];
    if (c === undefined) this.fail("unexpected end of line");
    if (c === "{") return this.dict(depth);
    if (c === "[") return this.seq("]", depth);
    if (c === "(") return this.seq(")", depth);
    if (c === "'" || c === '"') return this.strings();
    if (/[uUbBrR]/.test(c) && /['"]/.test(this.s[this.i + 1] ?? "")) return this.strings();
    if (/[uUbBrR]/.test(c) && /[bBrR]/.test(this.s[this.i + 1] ?? "") && /['"]/.test(this.s[this.i + 2] ?? "")) return this.strings();
    if (c === "-" || c === "+" || c === "." || (c >= "0" && c <= "9")) return this.num();
    for (const [word, v] of WORDS) {
      if (this.s.startsWith(word, this.i) && !/[A-Za-z0-9_]/.test(this.s[this.i + word.length] ?? "")) {
        this.i += word.length;
        return v;
      }
    }
    this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  dict(depth: number): PyValue {
    this.i++; // {
    const out: Record<string, PyValue> = Object.create(null);
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    // A "{a, b}" is a set literal: return its elements as a list.
    const first = this.value(depth + 1);
    this.ws();
    if (this.s[this.i] !== ":") {
      const items: PyValue[] = [first];
      while (this.s[this.i] === ",") {
        this.i++;
        this.ws();
        if (this.s[this.i] === "}") break;
        items.push(this.value(depth + 1));
        this.ws();
      }
      if (this.s[this.i] !== "}") this.fail("expected ',' or '}' in a set");
      this.i++;
      return items;
    }
    let key = first;
    for (;;) {
      if (this.s[this.i] !== ":") this.fail("expected ':' after a dict key");
      this.i++;
      this.ws();
      const v = this.value(depth + 1);
      if (typeof key === "object" && key !== null) this.fail("unhashable dict key");
      out[keyString(key)] = v;
      this.ws();
      const c = this.s[this.i];
      if (c === ",") {
        this.i++;
        this.ws();
        if (this.s[this.i] === "}") {
          this.i++;
          return out;
        }
        key = this.value(depth + 1);
        this.ws();
        continue;
      }
      if (c === "}") {
        this.i++;
        return out;
      }
      this.fail("expected ',' or '}' in a dict");
    }
  }

  seq(close: string, depth: number): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    this.ws();
    while (this.s[this.i] !== close) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      if (c === ",") {
        this.i++;
        this.ws();
      } else if (c !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.i++;
    return out;
  }

  /** Adjacent string literals concatenate, as in Python. */
  strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.i;
      this.ws();
      const c = this.s[this.i];
      if (c === "'" || c === '"' || (/[uUbBrR]/.test(c ?? "") && /['"bBrR]/.test(this.s[this.i + 1] ?? ""))) {
        out += this.string();
      } else {
        this.i = save;
        return out;
      }
    }
  }

  string(): string {
    let raw = false;
    while (/[uUbBrR]/.test(this.s[this.i] ?? "")) {
      if (/[rR]/.test(this.s[this.i])) raw = true;
      this.i++;
    }
    const q = this.s[this.i];
    if (q !== "'" && q !== '"') this.fail("expected a string quote");
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail("unterminated string");
      if (this.s.startsWith(close, this.i)) {
        this.i += close.length;
        return out;
      }
      const c = this.s[this.i];
      if (!triple && (c === "\n" || c === "\r")) this.fail("newline inside a string");
      if (c === "\\") {
        const e = this.s[this.i + 1];
        if (e === undefined) this.fail("unterminated escape");
        if (raw) {
          out += c + e;
          this.i += 2;
          continue;
        }
        this.i += 2;
        out += this.escape(e);
        continue;
      }
      out += c;
      this.i++;
    }
  }

  escape(e: string): string {
    switch (e) {
      case "n": return "\n";
      case "t": return "\t";
      case "r": return "\r";
      case "\\": return "\\";
      case "'": return "'";
      case '"': return '"';
      case "a": return "\x07";
      case "b": return "\b";
      case "f": return "\f";
      case "v": return "\v";
      case "\n": return "";
      case "x": return this.hex(2);
      case "u": return this.hex(4);
      case "U": return this.hex(8);
      default:
        if (e >= "0" && e <= "7") {
          let digits = e;
          while (digits.length < 3 && /[0-7]/.test(this.s[this.i] ?? "")) digits += this.s[this.i++];
          return String.fromCharCode(parseInt(digits, 8));
        }
        // Python keeps unknown escapes literally (with a warning).
        return "\\" + e;
    }
  }

  hex(n: number): string {
    const h = this.s.slice(this.i, this.i + n);
    if (h.length < n || !/^[0-9a-fA-F]+$/.test(h)) this.fail(`bad \\${n === 2 ? "x" : n === 4 ? "u" : "U"} escape`);
    this.i += n;
    const code = parseInt(h, 16);
    if (code > 0x10ffff) this.fail("escape beyond U+10FFFF");
    return String.fromCodePoint(code);
  }

  num(): number {
    const m = /^[+-]?(0[xX][0-9a-fA-F_]+|(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?)[lLjJ]?/.exec(this.s.slice(this.i, this.i + 64));
    if (!m || m[0] === "-" || m[0] === "+") this.fail("bad number");
    this.i += m[0].length;
    const text = m[0].replace(/_/g, "").replace(/[lL]$/, "");
    if (/[jJ]$/.test(text)) this.fail("complex numbers are not supported");
    const v = /0[xX]/.test(text) ? parseInt(text, 16) : Number(text);
    if (Number.isNaN(v)) this.fail("bad number");
    return v;
  }
}

const WORDS: [string, PyValue][] = [
  ["True", true], ["False", false], ["None", null], ["true", true], ["false", false], ["null", null],
];

function keyString(k: PyValue): string {
  if (typeof k === "string") return k;
  if (k === null) return "None";
  if (typeof k === "boolean") return k ? "True" : "False";
  return String(k);
}
