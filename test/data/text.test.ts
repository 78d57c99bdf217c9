import { describe, expect, it } from "vitest";
import { idValue, number, timestamp } from "../../src/data/loaders/text.ts";

const where = { file: "inter.jsonl", line: 3, field: "user" };

describe("idValue", () => {
  it("keeps strings and safe integers", () => {
    expect(idValue(" u1 ", where)).toBe("u1");
    expect(idValue(42, where)).toBe("42");
    expect(idValue(JSON.parse("2.0"), where)).toBe("2");
  });

  it("rejects a JSON number id beyond 2^53 (JSON.parse rounds it, merging users) and asks for a string", () => {
    const big = JSON.parse('{"user": 12345678901234567891}').user as number;
    expect(() => idValue(big, where)).toThrow(/write ids as strings/);
    expect(() => idValue(big, where)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_FIELD", location: where }));
    expect(() => idValue(2 ** 53, where)).toThrow(/beyond 2\^53/);
  });

  it("rejects non-integer and non-finite numeric ids", () => {
    expect(() => idValue(1.5, where)).toThrow(/not an integer/);
    expect(() => idValue(Number.NaN, where)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_FIELD" }));
  });
});

describe("timestamp", () => {
  it("parses valid dates and date-times as UTC unix seconds", () => {
    expect(timestamp("2021-02-28", where)).toBe(Date.UTC(2021, 1, 28) / 1000);
    expect(timestamp("2020-02-29 23:59:59", where)).toBe(Date.UTC(2020, 1, 29, 23, 59, 59) / 1000);
    expect(timestamp("2021-01-01T10:00:00.5+05:30", where)).toBe(Date.UTC(2021, 0, 1, 4, 30, 0, 500) / 1000);
    expect(timestamp("2021-01-01T10:00+0530", where)).toBe(Date.UTC(2021, 0, 1, 4, 30) / 1000);
    expect(timestamp("1000000", where)).toBe(1_000_000);
  });

  it.each(["2021-02-30", "2021-04-31", "2021-02-29", "2021-13-01", "2021-00-10", "2021-01-01T25:00", "2021-01-01T24:00:00Z", "2021-01-01T23:60", "2021-02-30T10:00:00+05:30"])(
    "rejects the impossible date %s instead of rolling it over",
    (v) => {
      expect(() => timestamp(v, where)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_FIELD", location: where }));
      expect(() => timestamp(v, where)).toThrow(/not a valid calendar date/);
    },
  );

  it("rejects numeric strings that overflow to Infinity", () => {
    expect(() => timestamp("1e400", where)).toThrow(/not finite/);
    expect(() => timestamp("-1e400", where)).toThrow(/not finite/);
  });
});

describe("number", () => {
  it("rejects numeric strings that overflow to Infinity", () => {
    expect(number("4.5", where)).toBe(4.5);
    expect(number("1e300", where)).toBe(1e300);
    expect(() => number("1e400", where)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_FIELD", location: where }));
    expect(() => number("-1e400", where)).toThrow(/not finite/);
  });
});
