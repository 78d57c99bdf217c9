import { describe, expect, it } from "vitest";
import { Rng } from "../src/rng.ts";

describe("Rng", () => {
  it("is reproducible for a seed and differs across seeds", () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(42)));
    const b = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(42)));
    const c = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(43)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
  it("draws uniform floats with mean near 1/2 and ints within bounds", () => {
    const r = new Rng(1);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      s += x;
      const k = r.int(3, 7);
      expect(k >= 3 && k < 7).toBe(true);
    }
    expect(Math.abs(s / 20000 - 0.5)).toBeLessThan(0.01);
  });
  it("normal has mean ~0 and variance ~1", () => {
    const r = new Rng(7);
    let s = 0, s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) { const z = r.normal(); s += z; s2 += z * z; }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});

describe("Rng state", () => {
  it("round-trips through getState/setState after many draws (words stay uint32)", () => {
    const r = new Rng(123);
    for (let i = 0; i < 1000; i++) r.nextU32();
    const st = r.getState();
    expect(st.every((w) => w >= 0 && w <= 0xffffffff)).toBe(true);
    const a = Array.from({ length: 10 }, () => r.nextU32());
    const q = new Rng(0);
    q.setState(st);
    expect(Array.from({ length: 10 }, () => q.nextU32())).toEqual(a);
  });
});
