# LlamaRec's ML-100k (ml-latest-small) split as its datasets/base.py makes it, re-done in plain Python (no pandas) so
# that CPython's own set() numbers the items: title filter (every movie has one), iterative 5-core keeping row order,
# dense ids from set() iteration order, each history sorted by (timestamp, dense id), leave-one-out.
# usage: python3 llamarec_split.py ratings.csv out.json  -> prints the digest test/data/real.test.ts expects and the
# number of users with a tie at their last timestamp
# (sha256 over "user:item,item,..." lines, raw ids, users ascending).
import csv, collections, hashlib, sys, json
rows = [(int(r['userId']), int(r['movieId']), int(r['timestamp'])) for r in csv.DictReader(open(sys.argv[1]))]
df = rows
while True:
    ic = collections.Counter(m for _, m, _ in df)
    uc = collections.Counter(u for u, _, _ in df)
    if all(ic[m] >= 5 for _, m, _ in df) and all(uc[u] >= 5 for u, _, _ in df): break
    # pandas loop: items first, then users, on the updated frame
    ic = collections.Counter(m for _, m, _ in df); df = [r for r in df if ic[r[1]] >= 5]
    uc = collections.Counter(u for u, _, _ in df); df = [r for r in df if uc[r[0]] >= 5]
umap = {u: i for i, u in enumerate(set(r[0] for r in df), start=1)}
smap = {s: i for i, s in enumerate(set(r[1] for r in df), start=1)}
seqs = collections.defaultdict(list)
for u, m, t in df: seqs[umap[u]].append((t, smap[m]))
inv = {v: k for k, v in smap.items()}
out = {}
for u in sorted(seqs):
    items = [s for _, s in sorted(seqs[u])]
    raw_user = [k for k, v in umap.items() if v == u][0]
    out[str(raw_user)] = [inv[s] for s in items]
json.dump({"set_order": [inv[i] for i in range(1, len(inv) + 1)], "seqs": out}, open(sys.argv[2], "w"))
# users whose last timestamp is shared by several items: their test item is decided by the set() numbering
ties = sum(1 for u in seqs if [t for t, _ in seqs[u]].count(max(t for t, _ in seqs[u])) > 1)
lines = "\n".join(f"{u}:" + ",".join(map(str, out[u])) for u in sorted(out, key=int))
print(sys.version.split()[0], len(umap), len(smap), len(df), hashlib.sha256(lines.encode()).hexdigest(), f"ties at the last timestamp: {ties} users")
