import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pythonIntSetOrder } from "../../src/data/protocols/python-set-order.ts";

/** The integer stream of bench/reference/python_set_fixtures.py. */
function lcgValues(n: number, seed: number, modulo: number): number[] {
  let x = BigInt(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245n + 12345n) % 2n ** 31n;
    out.push(Number(x % BigInt(modulo)));
  }
  return out;
}

// Generated with CPython 3.8, 3.10, 3.12 and 3.13 (identical): `list(set(values))`.
const CPYTHON = [
  { name: "small", n: 12, seed: 1, mod: 40, count: 11, sha256: "859514de3b14b8e81ae82ef876e3d8529cf5d0b4113e8f876a59b29bf5bef841", head: [32, 34, 4, 6, 7, 15, 19, 21, 25, 28, 30] },
  { name: "collide", n: 30, seed: 2, mod: 64, count: 30, sha256: "3c232f383c990ef589b2037c618b527f7f736a03cfe96f9cca8a709ede2a3296" },
  { name: "resize", n: 200, seed: 3, mod: 5000, count: 197, sha256: "a82e9d36c422ef1eec073590264dabfd345fd28af5d7caa9bf0ac56500f79db4", head: [2564, 517, 4102, 1543, 2572, 4620, 3600, 17, 2066, 2581, 22, 4631] },
  { name: "wide", n: 5000, seed: 4, mod: 2 ** 31, count: 5000, sha256: "8e3c6cd887c97f5f1fb744e462a11de14f758814dab5280e3edea732d1674611" },
  { name: "big (past 50,000 entries the table grows by 2x)", n: 70000, seed: 5, mod: 10 ** 7, count: 69744, sha256: "2ff2bb96f5bb78201f35d952a4ece60b840d09ec8e5f0babc8947160a2f26c4a" },
];

describe("pythonIntSetOrder (CPython's set() iteration order for integers)", () => {
  for (const c of CPYTHON) {
    it(`matches CPython: ${c.name}`, () => {
      const order = pythonIntSetOrder(lcgValues(c.n, c.seed, c.mod));
      expect(order).toHaveLength(c.count);
      if (c.head) expect(order.slice(0, c.head.length)).toEqual(c.head);
      expect(createHash("sha256").update(order.join(",")).digest("hex")).toBe(c.sha256);
    });
  }

  it("is not ascending order once ids exceed the table (the case that decides ties in ml-latest-small)", () => {
    // 8 slots: 9 lands on slot 1, before 2
    expect(pythonIntSetOrder([2, 9])).toEqual([9, 2]);
    expect(pythonIntSetOrder([3, 3, 1])).toEqual([1, 3]);
    expect(() => pythonIntSetOrder([-1])).toThrow(/non-negative/);
  });
});
