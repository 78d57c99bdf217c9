/**
 * A prefix tree of allowed token sequences, for generation that can only emit one of them (an item title of the
 * catalogue, or of 20 candidates). Every sequence ends with an end marker, so a sequence that is a prefix of another
 * one may stop there: the generator allows the end-of-sequence token exactly at nodes that carry the marker.
 */
import { ReclmError } from "../errors.ts";

/** A node: the tokens that may come next, and whether an allowed sequence ends here. */
export interface TrieNode {
  readonly children: ReadonlyMap<number, TrieNode>;
  readonly end: boolean;
}

interface MutableNode {
  children: Map<number, MutableNode>;
  end: boolean;
}

export class TokenTrie {
  private constructor(
    readonly root: TrieNode,
    /** Distinct sequences held. */
    readonly size: number,
    /** Tokens of the longest sequence. */
    readonly depth: number,
  ) {}

  /** A trie of the given sequences (duplicates count once); each must be non-empty and hold token ids. */
  static from(sequences: readonly (readonly number[])[]): TokenTrie {
    if (sequences.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a token trie needs at least one sequence", { field: "sequences" });
    const root: MutableNode = { children: new Map(), end: false };
    let size = 0;
    let depth = 0;
    sequences.forEach((seq, i) => {
      if (seq.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `sequence ${i} is empty; an allowed sequence has at least one token`, { field: `sequences[${i}]` });
      let node = root;
      for (const t of seq) {
        if (!Number.isInteger(t) || t < 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `sequence ${i} holds ${t}, which is not a token id`, { field: `sequences[${i}]` });
        let next = node.children.get(t);
        if (!next) node.children.set(t, (next = { children: new Map(), end: false }));
        node = next;
      }
      if (!node.end) size++;
      node.end = true;
      depth = Math.max(depth, seq.length);
    });
    return new TokenTrie(root, size, depth);
  }

  /** The node reached by `prefix`, or undefined when no allowed sequence starts with it. */
  walk(prefix: readonly number[], from: TrieNode = this.root): TrieNode | undefined {
    let node: TrieNode | undefined = from;
    for (const t of prefix) {
      node = node.children.get(t);
      if (!node) return undefined;
    }
    return node;
  }

  /** Whether `sequence` is one of the allowed sequences (not merely a prefix of one). */
  has(sequence: readonly number[]): boolean {
    return this.walk(sequence)?.end === true;
  }

  /** The allowed sequences, depth first, children in insertion order. */
  sequences(): number[][] {
    const out: number[][] = [];
    const visit = (node: TrieNode, path: number[]) => {
      if (node.end) out.push([...path]);
      for (const [t, child] of node.children) visit(child, [...path, t]);
    };
    visit(this.root, []);
    return out;
  }
}
