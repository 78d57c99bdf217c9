import { describe, expect, it } from "vitest";
import { parseCsv } from "../../src/data/loaders/csv.ts";

describe("parseCsv", () => {
  it("skips whitespace-only lines the same way whether or not the file holds a quote", () => {
    const plain = parseCsv("user,item\n1,2\n   \n3,4\n", "a.csv");
    const quoted = parseCsv('user,item\n1,"2"\n   \n3,4\n', "b.csv");
    expect(plain.map((r) => r.fields)).toEqual([["user", "item"], ["1", "2"], ["3", "4"]]);
    expect(quoted.map((r) => r.fields)).toEqual(plain.map((r) => r.fields));
    expect(quoted.map((r) => r.line)).toEqual(plain.map((r) => r.line));
  });

  it("keeps quoted delimiters and newlines inside a field, and names the file and line of a broken quote", () => {
    const rows = parseCsv('id,title\n1,"Toy Story, The"\n2,"two\nlines"\n', "c.csv");
    expect(rows.map((r) => r.fields)).toEqual([["id", "title"], ["1", "Toy Story, The"], ["2", "two\nlines"]]);
    expect(() => parseCsv('id,title\n1,"open\n', "d.csv")).toThrow(/d\.csv.*malformed CSV/);
  });
});
