"""SASRec and LRURec in PyTorch, built to docs/model-recipes.md (sections 0-2).

A benchmark reference for reclm's own engine, not a dependency of reclm. Written from the recipe (a re-implementation of
the LlamaRec/LRURec and RecSys-Extraction-Attack designs), not copied from those repositories.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def truncated_normal_(model, std=0.02, bound=0.04, skip=("layer_norm",)):
    """N(0, std^2) truncated to +-bound, by inverse CDF, for every parameter whose name contains none of `skip`.

    Biases are included on purpose: the papers' code re-initialises them too (recipe section 0).
    """
    lo = (1.0 + math.erf(-bound / std / math.sqrt(2.0))) / 2.0
    hi = (1.0 + math.erf(bound / std / math.sqrt(2.0))) / 2.0

    def fill(t):
        t.uniform_(2 * lo - 1, 2 * hi - 1)
        t.erfinv_()
        t.mul_(std * math.sqrt(2.0))

    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(s in name for s in skip):
                continue
            if torch.is_complex(p):
                fill(p.real)
                fill(p.imag)
            else:
                fill(p)


class FeedForward(nn.Module):
    """Post-LN position-wise FFN d -> 4d -> d with dropout after the activation and after the second linear."""

    def __init__(self, d, dropout, activation, eps):
        super().__init__()
        self.w_1 = nn.Linear(d, 4 * d)
        self.w_2 = nn.Linear(4 * d, d)
        self.activation = activation
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        inner = self.dropout(self.activation(self.w_1(x)))
        return self.layer_norm(x + self.dropout(self.w_2(inner)))


# ---------------------------------------------------------------------------------------------------------------- LRURec


class LRULayer(nn.Module):
    def __init__(self, d, dropout, r_min=0.8, r_max=0.99):
        super().__init__()
        state = 2 * d
        u1 = torch.rand(state)
        u2 = torch.rand(state)
        nu_log = torch.log(-0.5 * torch.log(u1 * (r_max**2 - r_min**2) + r_min**2))
        theta_log = torch.log(2 * math.pi * u2)
        modulus = torch.exp(-torch.exp(nu_log))  # |lambda|
        gamma_log = torch.log(torch.sqrt(1 - modulus**2))
        self.params_log = nn.Parameter(torch.stack((nu_log, theta_log, gamma_log)))
        self.in_proj = nn.Linear(d, state).to(torch.cfloat)
        self.out_proj = nn.Linear(state, d).to(torch.cfloat)
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(d)

    @staticmethod
    def scan(h, lamb, mask):
        """Mask-aware parallel prefix scan of h_t = lambda * h_{t-1} + u_t over log2(L) levels (L a power of 2).

        At level i, each block of 2^i positions adds lambda^(1..2^(i-1)) times the last state of its first half to
        its second half, unless that last position is padding (so the recurrence starts at the first real item).
        """
        B, L, D = h.shape
        powers = lamb  # lambda^1 .. lambda^(half)
        level = 1
        while (1 << level) <= L:
            size = 1 << level
            half = size // 2
            if level > 1:
                powers = torch.cat((powers, powers * powers[-1]), 0)
            blocks = h.reshape(B * L // size, size, D)
            m = mask.reshape(B * L // size, size)[:, half - 1 : half].unsqueeze(-1)
            first, second = blocks[:, :half], blocks[:, half:]
            second = second + powers * first[:, -1:] * m
            h = torch.cat((first, second), 1).reshape(B, L, D)
            level += 1
        return h

    def forward(self, x, mask):
        nu, theta, gamma = torch.exp(self.params_log).split((1, 1, 1))
        lamb = torch.exp(torch.complex(-nu, theta))  # 1 x 2d
        u = self.in_proj(x.to(torch.cfloat)) * gamma
        h = self.scan(u, lamb, mask)
        return self.layer_norm(self.dropout(self.out_proj(h).real) + x)


class LRURec(nn.Module):
    def __init__(self, num_items, d=64, blocks=2, dropout=0.2, lru_dropout=0.2):
        super().__init__()
        self.token = nn.Embedding(num_items + 1, d)  # no padding_idx: row 0 is trained, as in the recipe
        self.embed_dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(d)
        self.lru = nn.ModuleList([LRULayer(d, lru_dropout) for _ in range(blocks)])
        self.ffn = nn.ModuleList([FeedForward(d, dropout, nn.GELU(), 1e-5) for _ in range(blocks)])
        self.bias = nn.Parameter(torch.zeros(num_items + 1))
        truncated_normal_(self, skip=("layer_norm", "params_log"))

    def hidden(self, seqs):
        mask = seqs > 0
        x = self.layer_norm(self.embed_dropout(self.token(seqs)))
        L = seqs.size(1)
        padded = 1 << max(0, math.ceil(math.log2(L)))
        x = F.pad(x, (0, 0, padded - L, 0))
        mask = F.pad(mask, (padded - L, 0))
        for lru, ffn in zip(self.lru, self.ffn):
            x = ffn(lru(x, mask))
        return x[:, -L:]

    def forward(self, seqs):
        return self.hidden(seqs) @ self.token.weight.t() + self.bias


# ---------------------------------------------------------------------------------------------------------------- SASRec


class SASBlock(nn.Module):
    """Queries from LN1(x), keys/values from raw x, no output projection, residual onto LN1(x), ReLU FFN d->4d->d."""

    def __init__(self, d, heads, dropout, attn_dropout, eps):
        super().__init__()
        self.heads = heads
        self.head_size = d // heads
        self.layer_norm = nn.LayerNorm(d, eps=eps)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.attn_dropout = nn.Dropout(attn_dropout)
        self.attn_layer_norm = nn.LayerNorm(d, eps=eps)
        self.ffn = FeedForward(d, dropout, nn.ReLU(), eps)

    def forward(self, x, allowed):
        B, L, d = x.shape
        query = self.layer_norm(x)

        def split(t):
            return t.view(B, L, self.heads, self.head_size).transpose(1, 2)

        q, k, v = split(self.q(query)), split(self.k(x)), split(self.v(x))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_size)
        # masked_fill with one constant keeps the original's behaviour for all-masked (padding) rows: uniform weights
        scores = scores.masked_fill(~allowed, -1e9)
        att = self.attn_dropout(F.softmax(scores, dim=-1)) @ v
        att = att.transpose(1, 2).reshape(B, L, d)
        return self.ffn(self.attn_layer_norm(att + query))


class SASRec(nn.Module):
    def __init__(self, num_items, max_len, d=64, blocks=2, heads=2, dropout=0.2, attn_dropout=0.2, eps=1e-6):
        super().__init__()
        self.token = nn.Embedding(num_items + 1, d, padding_idx=0)  # default N(0,1) init, kept (recipe section 2)
        self.position = nn.Embedding(max_len + 1, d)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([SASBlock(d, heads, dropout, attn_dropout, eps) for _ in range(blocks)])
        truncated_normal_(self.blocks)

    def hidden(self, seqs):
        real = seqs > 0
        L = seqs.size(1)
        # 1-based position from the first real item; padding gets 0
        counts = real.sum(-1, keepdim=True)
        pos = (counts + torch.arange(-(L - 1), 1, device=seqs.device)) * real
        x = self.dropout(self.token(seqs) + self.position(pos))
        causal = torch.ones(L, L, dtype=torch.bool, device=seqs.device).tril()
        allowed = (real.unsqueeze(1) & causal).unsqueeze(1)  # B x 1 x L(query) x L(key)
        for block in self.blocks:
            x = block(x, allowed)
        return x

    def forward(self, seqs):
        return self.hidden(seqs) @ self.token.weight.t()


def build(model, num_items, max_len, dropout=0.2):
    if model == "lrurec":
        return LRURec(num_items, dropout=dropout, lru_dropout=dropout)
    if model == "sasrec":
        return SASRec(num_items, max_len, dropout=dropout, attn_dropout=dropout)
    raise ValueError(f"unknown model {model!r} (expected lrurec or sasrec)")


def adamw(model, lr=1e-3, weight_decay=0.01, eps=1e-9):
    """AdamW with no decay on parameters named *bias* or *layer_norm* (recipe section 0)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if ("bias" in name or "layer_norm" in name) else decay).append(p)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, eps=eps
    )
