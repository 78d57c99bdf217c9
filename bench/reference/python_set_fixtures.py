# The fixtures of test/data/python-set-order.test.ts: CPython's set() order of LCG-drawn integers (same in 3.8-3.13).
import hashlib, json
def lcg_values(n, seed, modulo):
    x = seed; out = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(x % modulo)
    return out
res = {}
for name, (n, seed, mod) in {"small": (12, 1, 40), "collide": (30, 2, 64), "resize": (200, 3, 5000), "wide": (5000, 4, 2**31), "big": (70000, 5, 10**7)}.items():
    order = list(set(lcg_values(n, seed, mod)))
    res[name] = {"n": n, "seed": seed, "mod": mod, "count": len(order), "head": order[:12], "sha256": hashlib.sha256(",".join(map(str, order)).encode()).hexdigest()}
print(json.dumps(res, indent=1))
