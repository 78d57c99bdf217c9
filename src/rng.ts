/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded through splitmix32). Every sampled thing in reclm
 * (negatives, shuffles, init, dropout masks, synthetic data) draws from one of these, so a seed reproduces a run.
 */
/** Whether `s` has the shape of a state from `Rng.getState()`: four uint32 values. */
export function isRngState(s: unknown): s is [number, number, number, number] {
  return Array.isArray(s) && s.length === 4 && s.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[] | Int32Array | Float32Array): typeof a {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t as never;
    }
    return a;
  }

  /** The generator's 128-bit state, for checkpoints (a resumed run continues the exact same stream). */
  getState(): [number, number, number, number] {
    // The xor-shift updates leave signed 32-bit words; normalise so setState accepts what getState gives.
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Restores a state from `getState()` in place (objects holding this Rng see the restored stream). */
  setState(state: readonly number[]): void {
    if (!isRngState(state)) throw new RangeError(`Rng state must be four uint32 values, got [${state.join(", ")}]`);
    [this.s0, this.s1, this.s2, this.s3] = [state[0], state[1], state[2], state[3]];
  }

  /** An independent stream derived from this one (for per-user or per-epoch sub-seeds). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
