"""Self-checks for models.py (run: /usr/bin/python3 bench/torch/check_models.py). Exits non-zero on any failure.

- the parallel LRU scan equals the sequential recurrence h_t = lambda*h_{t-1} + u_t started at the first real item;
- both models are causal: changing a later item leaves earlier real positions' outputs unchanged;
- left padding does not change the outputs at real positions (LRURec exactly; SASRec by its position scheme);
- the init respects the +-0.04 truncation.
"""
import sys

import torch

from models import LRULayer, LRURec, SASRec


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f"  ({detail})" if detail else ""))
    return ok


def sequential_scan(u, lamb, mask):
    B, L, D = u.shape
    out = torch.zeros_like(u)
    for b in range(B):
        h = torch.zeros(D, dtype=u.dtype)
        for t in range(L):
            h = (lamb[0] * h if t > 0 and mask[b, t - 1] else torch.zeros(D, dtype=u.dtype)) + u[b, t]
            out[b, t] = h
    return out


def main():
    torch.manual_seed(0)
    results = []
    layer = LRULayer(4, 0.0)
    nu, theta, _ = torch.exp(layer.params_log.detach()).split((1, 1, 1))
    lamb = torch.exp(torch.complex(-nu, theta))
    u = torch.randn(3, 16, 8, dtype=torch.cfloat)
    mask = torch.ones(3, 16, dtype=torch.bool)
    mask[1, :5] = False
    mask[2, :15] = False
    par = LRULayer.scan(u, lamb, mask)
    seq = sequential_scan(u, lamb, mask)
    # compare only real positions (padding positions carry values that are never read downstream)
    err = (par - seq).abs()[mask].max().item()
    results.append(check("parallel scan == sequential recurrence", err < 1e-4, f"max err {err:.2e}"))

    num_items, L = 50, 12
    for name, model in (("lrurec", LRURec(num_items, d=16)), ("sasrec", SASRec(num_items, L, d=16))):
        model.eval()
        seqs = torch.randint(1, num_items + 1, (2, L))
        seqs[1, :4] = 0
        with torch.no_grad():
            base = model.hidden(seqs)
            changed = seqs.clone()
            changed[:, -1] = (changed[:, -1] % num_items) + 1
            after = model.hidden(changed)
        diff = (base[:, :-1] - after[:, :-1]).abs()[seqs[:, :-1] > 0].max().item()
        results.append(check(f"{name}: causal", diff < 1e-5, f"max change before t {diff:.2e}"))
        last_changed = (base[:, -1] - after[:, -1]).abs().max().item()
        results.append(check(f"{name}: last position sees the last item", last_changed > 1e-4))

        short = seqs[1:, 4:]
        padded = torch.cat((torch.zeros(1, 4, dtype=torch.long), short), 1)
        with torch.no_grad():
            a = model.hidden(padded)[:, 4:]
            tight = model.hidden(short) if name == "lrurec" else None
        if tight is not None:
            e = (a - tight).abs().max().item()
            results.append(check("lrurec: left padding does not change real positions", e < 1e-4, f"{e:.2e}"))

        w = [p for n, p in model.named_parameters() if "layer_norm" not in n and "params_log" not in n]
        if name == "sasrec":
            w = [p for n, p in model.blocks.named_parameters() if "layer_norm" not in n]
        top = max(
            (p.detach().abs().max() if not torch.is_complex(p) else p.detach().real.abs().max()).item() for p in w
        )
        results.append(check(f"{name}: truncated init within 0.04", top <= 0.04 + 1e-7, f"max |w| {top:.4f}"))

    if not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
