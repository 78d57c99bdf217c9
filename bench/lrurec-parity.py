"""Forward parity of reclm's LRURec against the PyTorch reference (bench/torch/models.py, native complex tensors).

Reads the weights and ids bench/lrurec-parity.ts wrote, maps them onto bench/torch/models.py's LRURec (see the mapping
in src/models/lrurec.ts's header: packed [Re | Im] in_proj, out_proj stored as [Re W | -Im W]), runs it in eval mode
with exact-erf GELU and with tanh GELU, and prints one JSON line with the scores of every position.
Run by bench/lrurec-parity.ts with Debian's /usr/bin/python3 (torch 1.13).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch"))
from models import LRURec  # noqa: E402


def main(path):
    with open(path) as f:
        data = json.load(f)
    cfg = data["config"]
    d, n_items, blocks = cfg["hidden"], cfg["nItems"], cfg["blocks"]
    S = 2 * d
    W = {k: torch.tensor(v, dtype=torch.float32) for k, v in data["weights"].items()}
    out = {}
    for approx in ("none", "tanh"):
        torch.manual_seed(0)
        model = LRURec(n_items, d=d, blocks=blocks, dropout=0.0, lru_dropout=0.0)
        with torch.no_grad():
            model.token.weight.copy_(W["item_emb"].view(n_items + 1, d))
            model.layer_norm.weight.copy_(W["emb_layer_norm.weight"])
            model.layer_norm.bias.copy_(W["emb_layer_norm.bias"])
            model.bias.copy_(W["out_bias"])
            for i in range(blocks):
                p = f"block{i}."
                lru, ffn = model.lru[i], model.ffn[i]
                lru.params_log.copy_(W[p + "lru.params_log"].view(3, S))
                w_in = W[p + "lru.in_proj.weight"].view(2 * S, d)
                b_in = W[p + "lru.in_proj.bias"]
                lru.in_proj.weight.copy_(torch.complex(w_in[:S], w_in[S:]))
                lru.in_proj.bias.copy_(torch.complex(b_in[:S], b_in[S:]))
                w_out = W[p + "lru.out_proj.weight"].view(d, 2 * S)
                lru.out_proj.weight.copy_(torch.complex(w_out[:, :S], -w_out[:, S:]))
                # Im(b_out) never reaches the real output; a nonzero value proves it
                lru.out_proj.bias.copy_(torch.complex(W[p + "lru.out_proj.bias"], torch.full((d,), 0.7)))
                lru.layer_norm.weight.copy_(W[p + "lru.layer_norm.weight"])
                lru.layer_norm.bias.copy_(W[p + "lru.layer_norm.bias"])
                ffn.w_1.weight.copy_(W[p + "ffn.w1.weight"].view(4 * d, d))
                ffn.w_1.bias.copy_(W[p + "ffn.w1.bias"])
                ffn.w_2.weight.copy_(W[p + "ffn.w2.weight"].view(d, 4 * d))
                ffn.w_2.bias.copy_(W[p + "ffn.w2.bias"])
                ffn.layer_norm.weight.copy_(W[p + "ffn.layer_norm.weight"])
                ffn.layer_norm.bias.copy_(W[p + "ffn.layer_norm.bias"])
                ffn.activation = torch.nn.GELU(approximate=approx)
        model.eval()
        ids = torch.tensor(data["ids"], dtype=torch.long).view(data["batch"], data["window"])
        with torch.no_grad():
            out[approx] = model(ids).reshape(-1).tolist()
    print(json.dumps({"torch": torch.__version__, "erf": out["none"], "tanh": out["tanh"]}))


if __name__ == "__main__":
    main(sys.argv[1])
