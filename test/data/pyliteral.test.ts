import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PyLiteralError, parsePyLiteral } from "../../src/data/loaders/pyliteral.ts";

describe("parsePyLiteral", () => {
  it("reads Amazon 2014 metadata lines", () => {
    const line =
      "{'asin': '0000031852', 'title': 'Girls Ballet Tutu Zebra Hot Pink', 'price': 3.17, 'imUrl': 'http://x/y.jpg', " +
      "'related': {'also_bought': ['B00JHONN1S', 'B002BZX8Z6']}, 'salesRank': {'Toys & Games': 211836}, " +
      "'categories': [['Clothing', 'Girls'], ['Sports & Outdoors']], 'ok': True, 'gone': None, 'pair': (1, -2.5e3)}";
    expect(parsePyLiteral(line)).toEqual({
      asin: "0000031852",
      title: "Girls Ballet Tutu Zebra Hot Pink",
      price: 3.17,
      imUrl: "http://x/y.jpg",
      related: { also_bought: ["B00JHONN1S", "B002BZX8Z6"] },
      salesRank: { "Toys & Games": 211836 },
      categories: [["Clothing", "Girls"], ["Sports & Outdoors"]],
      ok: true,
      gone: null,
      pair: [1, -2500],
    });
  });

  it("handles quotes and escapes", () => {
    expect(parsePyLiteral(`"Don't Stop"`)).toBe("Don't Stop");
    expect(parsePyLiteral(`'it\\'s \\"x\\" \\\\ \\n\\t\\x41\\u00e9\\U0001F600\\101'`)).toBe(`it's "x" \\ \n\tAé😀A`);
    expect(parsePyLiteral(`u'caf\\xe9'`)).toBe("café");
    expect(parsePyLiteral(`r'a\\nb'`)).toBe("a\\nb");
    expect(parsePyLiteral(`'a' "b"`)).toBe("ab");
    expect(parsePyLiteral(`'''multi'line'''`)).toBe("multi'line");
    expect(parsePyLiteral(`{"json": true, "n": null, "x": [1, 2,]}`)).toEqual({ json: true, n: null, x: [1, 2] });
    expect(parsePyLiteral(`{1, 2}`)).toEqual([1, 2]);
  });

  it.each([`{'a': 1`, `{'a' 1}`, `'unterminated`, `[1, 2`, `{'a': Tru}`, `{'a': 1} x`, `{'a': '\\x4'}`, `(1 2)`, ``, `{[1]: 2}`])(
    "rejects %j with a PyLiteralError",
    (src) => {
      expect(() => parsePyLiteral(src)).toThrow(PyLiteralError);
    },
  );

  it("round-trips JSON values and never throws anything but PyLiteralError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(parsePyLiteral(JSON.stringify(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          parsePyLiteral(s);
        } catch (e) {
          expect(e).toBeInstanceOf(PyLiteralError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
