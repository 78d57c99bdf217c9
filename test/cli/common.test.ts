import { describe, expect, it } from "vitest";
import { parseNonNegativeInt, parsePositiveInt } from "../../src/cli/common.ts";

describe("parsePositiveInt", () => {
  const parse = parsePositiveInt("--top");

  it("takes plain decimal digits", () => {
    expect(parse("5")).toBe(5);
    expect(parse("0020")).toBe(20);
  });

  it.each(["0x10", "1e3", "1.0", " 5", "5 ", "+5", "-1", "0", "", "9007199254740993"])("rejects %j, naming the flag", (v) => {
    expect(() => parse(v)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_CONFIG", location: { field: "--top" } }));
    expect(() => parse(v)).toThrow(/--top must be a positive integer/);
  });
});

describe("parseNonNegativeInt", () => {
  const parse = parseNonNegativeInt("--seed");

  it("takes plain decimal digits, 0 included", () => {
    expect(parse("0")).toBe(0);
    expect(parse("42")).toBe(42);
  });

  it.each(["0x10", "1e3", "1.0", " 5", "-1", "", "9007199254740993"])("rejects %j, naming the flag", (v) => {
    expect(() => parse(v)).toThrow(/--seed must be a non-negative integer/);
  });
});
