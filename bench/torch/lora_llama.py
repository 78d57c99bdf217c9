"""LoRA fine-tuning throughput of a plain PyTorch llama on CPU, for side-by-side comparison with reclm's LLM trainer.

The model is the llama block llama.cpp runs (and reclm's decoder, src/llm/llama.ts): RMSNorm, rotary embedding in
llama.cpp's NORM layout (adjacent pairs rotated; the GGUF converter has already permuted HF's q/k rows into it),
grouped-query causal attention (query head h reads kv head h // (heads / kv_heads)), SwiGLU MLP, final RMSNorm, the
head tied to the token embedding or its own output.weight. Its frozen weights are read from the same GGUF file reclm
trains on (F32 or F16 tensors; a small reader below, no gguf package). LoRA on q and v as PEFT builds it:
W x + (alpha / r) B A x, A kaiming-uniform (bound 1/sqrt(in)), B zeros; `--lora-a` loads reclm's initial A instead,
so that both sides start from the same parameters and their loss trajectories can be compared step by step.

One step = forward over a micro-batch of sequences, the labelled rows' hidden states only through the head (reclm's
trainer does the same: batches.ts), cross-entropy weighted 1 / labelled tokens of the step, backward, global grad-norm
clip, AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8, no decay: reclm's LLM_TRAIN_DEFAULTS). Prints one JSON line:
{torch_version, threads, step_ms, step_cpu_ms (process CPU time), losses, peak_rss_mib, rss_after_load_mib (peak RSS once the model is built), parameters, trainable}.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

GGML_F32, GGML_F16 = 0, 1


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gguf", required=True, help="llama-architecture GGUF with F32 or F16 tensors")
    p.add_argument("--tokens", required=True, help="raw little-endian int32 [sequences, seq-len]")
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--order", required=True, help="JSON file: a list of steps, each the sequence indices it trains on")
    p.add_argument("--labels", choices=["last2", "all"], default="last2",
                   help="loss on the last 2 tokens of each sequence (an answer and its end token) or on every token after the first")
    p.add_argument("--warmup", type=int, default=1, help="leading steps not timed")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--lora-a", help="raw f32: every adapted layer's A [r, in], layer by layer, q then v (reclm's initial A)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


class GgufReader:
    """The header of a GGUF file (v2/v3): metadata, tensor infos (PyTorch-order shapes) and where the data starts."""

    SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.f = f
            if f.read(4) != b"GGUF":
                raise SystemExit(f"{path}: not a GGUF file")
            version, n_tensors, n_kv = struct.unpack("<IQQ", f.read(20))
            if version not in (2, 3):
                raise SystemExit(f"{path}: GGUF version {version} is not supported")
            self.metadata = {}
            for _ in range(n_kv):
                key = self._string()
                self.metadata[key] = self._value(self._u32())
            self.tensors = {}
            for _ in range(n_tensors):
                name = self._string()
                n_dims = self._u32()
                ne = struct.unpack(f"<{n_dims}Q", f.read(8 * n_dims))
                ggml_type = self._u32()
                offset = struct.unpack("<Q", f.read(8))[0]
                self.tensors[name] = (tuple(reversed(ne)), ggml_type, offset)
            align = self.metadata.get("general.alignment", 32)
            self.data_start = (f.tell() + align - 1) // align * align
            del self.f

    def _u32(self):
        return struct.unpack("<I", self.f.read(4))[0]

    def _string(self):
        n = struct.unpack("<Q", self.f.read(8))[0]
        return self.f.read(n).decode("utf-8")

    def _value(self, t):
        if t == 8:
            return self._string()
        if t == 9:
            et = self._u32()
            n = struct.unpack("<Q", self.f.read(8))[0]
            if et in self.SCALARS:
                fmt = self.SCALARS[et]
                size = struct.calcsize(fmt)
                return list(struct.unpack(f"<{n}{fmt[1]}", self.f.read(size * n)))
            return [self._value(et) for _ in range(n)]
        fmt = self.SCALARS[t]
        return struct.unpack(fmt, self.f.read(struct.calcsize(fmt)))[0]

    def load(self, name, torch):
        """The tensor as an F32 torch tensor, read straight into its storage (no page-cache copy kept in RSS)."""
        import numpy as np

        shape, ggml_type, offset = self.tensors[name]
        n = math.prod(shape)
        with open(self.path, "rb") as f:
            f.seek(self.data_start + offset)
            if ggml_type == GGML_F32:
                out = torch.empty(shape, dtype=torch.float32)
                if f.readinto(memoryview(out.numpy()).cast("B")) != n * 4:
                    raise SystemExit(f"{self.path}: tensor {name} is truncated")
                return out
            if ggml_type == GGML_F16:
                half = np.fromfile(f, dtype=np.float16, count=n)
                return torch.from_numpy(half.astype(np.float32).reshape(shape))
        raise SystemExit(f"{self.path}: tensor {name} has ggml type {ggml_type}; this reader takes F32 and F16 only")


def peak_rss_mib():
    """VmHWM of /proc/self/status: this process's own peak RSS. ru_maxrss is not: Linux carries the RSS a forked child
    had at exec (its parent's, when a big Node process starts this script) into the child's ru_maxrss."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("/proc/self/status has no VmHWM line: peak RSS cannot be measured on this system")


def build_model(torch, gguf, rank, alpha, lora_a_file, seed):
    nn = torch.nn
    F = torch.nn.functional
    m = gguf.metadata
    arch = m["general.architecture"]
    if arch != "llama":
        raise SystemExit(f"{gguf.path}: architecture {arch}; this reference runs llama only")
    key = lambda k, d=None: m.get(f"llama.{k}", d)
    dim, layers, heads = key("embedding_length"), key("block_count"), key("attention.head_count")
    kv_heads = key("attention.head_count_kv", heads)
    head_dim = key("attention.key_length", dim // heads)
    eps, rope_base = key("attention.layer_norm_rms_epsilon"), key("rope.freq_base", 10000.0)
    if key("rope.scaling.type", "none") not in ("none", "linear") or key("rope.scaling.factor", 0) not in (0, 1):
        raise SystemExit("rope scaling is not supported by this reference")
    if "rope_freqs.weight" in gguf.tensors or any(n.endswith(".bias") for n in gguf.tensors):
        raise SystemExit("rope_freqs and biases are not supported by this reference")
    group = heads // kv_heads

    def frozen(name):
        return nn.Parameter(gguf.load(name, torch), requires_grad=False)

    class Lora(nn.Module):
        def __init__(self, weight):
            super().__init__()
            self.weight = weight
            out_f, in_f = weight.shape
            self.a = nn.Parameter(torch.empty(rank, in_f))
            self.b = nn.Parameter(torch.zeros(out_f, rank))
            nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))  # PEFT's init: U(+-1/sqrt(in))
            self.scale = alpha / rank

        def forward(self, x):
            return F.linear(x, self.weight) + F.linear(F.linear(x, self.a), self.b) * self.scale

    class Plain(nn.Module):
        def __init__(self, weight):
            super().__init__()
            self.weight = weight

        def forward(self, x):
            return F.linear(x, self.weight)

    def rms_norm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    class Block(nn.Module):
        def __init__(self, i):
            super().__init__()
            p = f"blk.{i}."
            self.attn_norm = frozen(p + "attn_norm.weight")
            self.ffn_norm = frozen(p + "ffn_norm.weight")
            self.q = Lora(frozen(p + "attn_q.weight"))
            self.k = Plain(frozen(p + "attn_k.weight"))
            self.v = Lora(frozen(p + "attn_v.weight"))
            self.o = Plain(frozen(p + "attn_output.weight"))
            self.gate = Plain(frozen(p + "ffn_gate.weight"))
            self.up = Plain(frozen(p + "ffn_up.weight"))
            self.down = Plain(frozen(p + "ffn_down.weight"))

        def forward(self, x, cos, sin, causal):
            B, T, _ = x.shape
            h = rms_norm(x, self.attn_norm)
            q = rope(self.q(h).view(B, T, heads, head_dim), cos, sin).transpose(1, 2)  # [B, H, T, Dh]
            k = rope(self.k(h).view(B, T, kv_heads, head_dim), cos, sin).transpose(1, 2)  # [B, Hkv, T, Dh]
            v = self.v(h).view(B, T, kv_heads, head_dim).transpose(1, 2)
            # The `group` query heads of a kv head are one [group*T, Dh] matrix against it: GQA without copying k/v.
            q = (q * (1.0 / math.sqrt(head_dim))).reshape(B, kv_heads, group * T, head_dim)
            scores = torch.matmul(q, k.transpose(-1, -2)).view(B, heads, T, T)
            att = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
            ctx = torch.matmul(att.view(B, kv_heads, group * T, T), v).view(B, heads, T, head_dim)
            x = x + self.o(ctx.transpose(1, 2).reshape(B, T, heads * head_dim))
            h2 = rms_norm(x, self.ffn_norm)
            return x + self.down(F.silu(self.gate(h2)) * self.up(h2))

    def rope(x, cos, sin):
        # llama.cpp's NORM rope: pairs (2i, 2i+1) rotated by pos * base^(-2i/d).
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = frozen("token_embd.weight")
            self.blocks = nn.ModuleList([Block(i) for i in range(layers)])
            self.output_norm = frozen("output_norm.weight")
            self.output = self.embedding if "output.weight" not in gguf.tensors else frozen("output.weight")

        def loss(self, tokens, rows, targets, weights, cos, sin, causal):
            B, T = tokens.shape
            x = F.embedding(tokens, self.embedding)
            for blk in self.blocks:
                x = blk(x, cos, sin, causal)
            h = rms_norm(x, self.output_norm).reshape(B * T, dim)[rows]
            logp = torch.log_softmax(F.linear(h, self.output), dim=-1)
            return -(weights * logp.gather(1, targets[:, None])[:, 0]).sum()

    torch.manual_seed(seed)
    model = Llama()
    adapters = [a for blk in model.blocks for a in (blk.q, blk.v)]
    if lora_a_file:
        import numpy as np

        values = np.fromfile(lora_a_file, dtype="<f4")
        want = sum(a.a.numel() for a in adapters)
        if values.size != want:
            raise SystemExit(f"{lora_a_file}: {values.size} values, the adapters' A need {want}")
        at = 0
        with torch.no_grad():
            for a in adapters:
                n = a.a.numel()
                a.a.copy_(torch.from_numpy(values[at:at + n].copy()).view_as(a.a))
                at += n
    return model, dict(head_dim=head_dim, rope_base=rope_base, vocab=model.embedding.shape[0])


def rope_tables(torch, T, head_dim, base):
    """cos/sin [T, head_dim/2] as ggml computes them: theta_i = pos * s^i by repeated float32 products, s = base^(-2/d)."""
    import numpy as np

    s = np.float32(base) ** np.float32(-2.0 / head_dim)
    theta = np.arange(T, dtype=np.float32)
    table = np.empty((T, head_dim // 2), dtype=np.float32)
    for i in range(head_dim // 2):
        table[:, i] = theta
        theta = (theta * s).astype(np.float32)
    t = torch.from_numpy(table)[:, None, :]  # broadcasts over [B, T, heads, Dh/2]
    return torch.cos(t), torch.sin(t)


def main(argv):
    args = parse_args(argv)
    # BLAS/OpenMP pools read these at load time, so they must be set before torch is imported
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    gguf = GgufReader(args.gguf)
    model, info = build_model(torch, gguf, args.rank, args.alpha, args.lora_a, args.seed)
    rss_after_load = peak_rss_mib()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    T = args.seq_len
    tokens = np.fromfile(args.tokens, dtype="<i4").reshape(-1, T)
    if tokens.min() < 0 or tokens.max() >= info["vocab"]:
        raise SystemExit(f"{args.tokens}: token ids outside the vocabulary of {info['vocab']}")
    with open(args.order) as f:
        order = json.load(f)
    cos, sin = rope_tables(torch, T, info["head_dim"], info["rope_base"])
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    labelled = [T - 2, T - 1] if args.labels == "last2" else list(range(1, T))

    step_ms, step_cpu_ms, losses = [], [], []
    for step, idx in enumerate(order):
        B = len(idx)
        batch = torch.from_numpy(tokens[idx].astype(np.int64))
        # token i is predicted from position i - 1 (flat b*T index)
        rows = torch.tensor([r * T + i - 1 for r in range(B) for i in labelled])
        targets = torch.tensor([int(tokens[idx[r], i]) for r in range(B) for i in labelled])
        weights = torch.full((len(rows),), 1.0 / len(rows))
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(batch, rows, targets, weights, cos, sin, causal)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(trainable, args.clip)
        opt.step()
        ms = (time.perf_counter() - t0) * 1000
        step_ms.append(ms)
        step_cpu_ms.append((time.process_time() - c0) * 1000)
        losses.append(loss.item())
        print(f"pytorch step {step}: {ms:.0f} ms loss {loss.item():.6f}", file=sys.stderr, flush=True)

    print(json.dumps({
        "torch_version": torch.__version__,
        "threads": args.threads,
        "step_ms": step_ms,
        "step_cpu_ms": step_cpu_ms,
        "losses": losses,
        "warmup": args.warmup,
        "peak_rss_mib": peak_rss_mib(),
        "rss_after_load_mib": rss_after_load,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in trainable),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
