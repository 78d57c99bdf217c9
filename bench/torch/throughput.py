"""Training throughput of SASRec / LRURec in PyTorch on CPU, for side-by-side comparison with reclm's engine.

One step = forward, full-softmax CE over all items at every position (label 0 ignored), backward, global grad-norm
clip 5.0, AdamW (lr 1e-3, wd 0.01 with the bias/layer_norm exemption, eps 1e-9). Prints one JSON line.
"""
import argparse
import json
import os
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", choices=["sasrec", "lrurec"], required=True)
    p.add_argument("--dataset", required=True, help="LRURec-style dataset.json (train/val/test/smap)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--max-len", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--batches",
        help="raw little-endian int32 file of shape [steps, 2, batch, max_len] (tokens, labels per step) to train on "
        "instead of this script's own shuffled windows, so both sides of a comparison see the same batches",
    )
    p.add_argument(
        "--gather",
        action="store_true",
        help="score only the labelled positions (label != 0) before the item head, as reclm's trainer does; "
        "same loss and gradients, less work on padding rows",
    )
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.max_len < 2:
        raise SystemExit("throughput.py: --steps >= 1, --warmup >= 0, --batch >= 1, --max-len >= 2 required")
    # BLAS/OpenMP pools read these at load time, so they must be set before torch is imported
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    from data import load_dataset, training_windows, windows_to_tensors
    from models import adamw, build

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, _, _, num_items = load_dataset(args.dataset)
    tokens, labels = windows_to_tensors(training_windows(train, args.max_len), args.max_len)
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(tokens.size(0), generator=gen)

    model = build(args.model, num_items, args.max_len, args.dropout)
    model.train()
    opt = adamw(model)
    ce = torch.nn.CrossEntropyLoss(ignore_index=0)

    given = None
    if args.batches:
        import numpy as np

        raw = torch.from_numpy(np.fromfile(args.batches, dtype="<i4").astype("int64"))
        want = (args.warmup + args.steps) * 2 * args.batch * args.max_len
        if raw.numel() != want:
            raise SystemExit(f"throughput.py: {args.batches} holds {raw.numel()} int32 values, expected {want}")
        given = raw.reshape(args.warmup + args.steps, 2, args.batch, args.max_len)
        if int(given.max()) > num_items or int(given.min()) < 0:
            raise SystemExit(f"throughput.py: {args.batches} has item ids outside [0, {num_items}]")

    def batch_at(step):
        if given is not None:
            return given[step, 0], given[step, 1]
        start = (step * args.batch) % tokens.size(0)
        idx = order[start : start + args.batch]
        if idx.numel() < args.batch:  # wrap so every step has a full batch
            idx = torch.cat((idx, order[: args.batch - idx.numel()]))
        return tokens[idx], labels[idx]

    times, loss_value, labelled = [], float("nan"), []
    for step in range(args.warmup + args.steps):
        seqs, labs = batch_at(step)
        labelled.append(int((labs != 0).sum()))
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if args.gather:
            keep = labs.reshape(-1) != 0
            h = model.hidden(seqs).reshape(-1, model.token.weight.size(1))[keep]
            logits = h @ model.token.weight.t()
            if isinstance(getattr(model, "bias", None), torch.nn.Parameter):
                logits = logits + model.bias
            loss = ce(logits, labs.reshape(-1)[keep])
        else:
            logits = model(seqs)
            loss = ce(logits.reshape(-1, logits.size(-1)), labs.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        loss_value = loss.item()
        elapsed = time.perf_counter() - t0
        if step >= args.warmup:
            times.append(elapsed)
        if not loss_value == loss_value:
            raise SystemExit(f"throughput.py: loss became NaN at step {step}")

    median = statistics.median(times)
    print(
        json.dumps(
            {
                "model": args.model,
                "framework": "pytorch",
                "torch_version": torch.__version__,
                "threads": args.threads,
                "gather": args.gather,
                "batch": args.batch,
                "max_len": args.max_len,
                "num_items": num_items,
                "train_windows": int(tokens.size(0)),
                "steps": args.steps,
                "warmup": args.warmup,
                "median_step_ms": round(median * 1000, 2),
                "min_step_ms": round(min(times) * 1000, 2),
                "seq_per_s": round(args.batch / median, 2),
                "final_loss": round(loss_value, 4),
                "labelled_rows": labelled,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
