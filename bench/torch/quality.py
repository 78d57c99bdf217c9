"""Reference ranking quality of the PyTorch LRURec/SASRec on ml-latest-small with the LlamaRec retriever protocol.

Protocol (anchors §1.1-1.3, docs/model-recipes.md §0-1): ratings.csv, items without a title dropped, iterative 5-core
(users and items >= 5), ids densified (sorted raw ids here), each user's items sorted by (timestamp, item id),
leave-one-out. With --split-json (the output of bench/reference/llamarec_split.py) the split is the authors' own instead:
their 5-core loop, items numbered in CPython set() order, which decides the order of items sharing a timestamp.
Train on windows of max_len 200 at batch 16, AdamW 1e-3 wd 0.01, --dropout (0.2), validate every --val-every steps on
Recall@10 WITHOUT masking history, averaged as the original (mean over batches of --batch users of per-batch means),
keep the best, stop after --patience validations without improvement or --max-steps. Test: full ranking over all items,
the input window and padding masked; per-user mean, and the original's mean of batch means beside it. Prints one JSON line.
"""
import argparse
import csv
import json
import math
import os
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", choices=["sasrec", "lrurec"], default="lrurec")
    p.add_argument("--data-dir", required=True, help="folder with ml-latest-small ratings.csv and movies.csv")
    p.add_argument("--max-len", type=int, default=200)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--patience", type=int, default=20)
    p.add_argument("--max-steps", type=int, default=3000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--dropout", type=float, default=0.2, help="embedding, LRU/attention and FFN dropout")
    p.add_argument("--split-json", help="the authors' split from bench/reference/llamarec_split.py (else sorted ids)")
    return p.parse_args(argv)


def read_movielens(data_dir):
    with open(os.path.join(data_dir, "movies.csv"), newline="", encoding="utf-8") as f:
        titled = {row["movieId"] for row in csv.DictReader(f) if row["title"].strip()}
    rows = []
    with open(os.path.join(data_dir, "ratings.csv"), newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append((int(row["userId"]), int(row["movieId"]), int(row["timestamp"])))
            except (KeyError, ValueError) as e:
                raise SystemExit(f"{data_dir}/ratings.csv:{line}: bad row ({e})")
    return [r for r in rows if str(r[1]) in titled]


def five_core(rows, k=5):
    while True:
        uc, ic = {}, {}
        for u, i, _ in rows:
            uc[u] = uc.get(u, 0) + 1
            ic[i] = ic.get(i, 0) + 1
        kept = [r for r in rows if uc[r[0]] >= k and ic[r[1]] >= k]
        if len(kept) == len(rows):
            return rows
        rows = kept


def leave_one_out(rows):
    umap = {u: n for n, u in enumerate(sorted({r[0] for r in rows}), start=1)}
    smap = {i: n for n, i in enumerate(sorted({r[1] for r in rows}), start=1)}
    per_user = {}
    for u, i, t in rows:
        per_user.setdefault(umap[u], []).append((t, smap[i]))
    train, val, test = {}, {}, {}
    for u, events in per_user.items():
        seq = [s for _, s in sorted(events)]
        train[u], val[u], test[u] = seq[:-2], seq[-2:-1], seq[-1:]
    return train, val, test, len(smap)


def split_from_json(path):
    """The authors' split: dense ids in their set() order, histories already in their (timestamp, id) order."""
    with open(path, "r", encoding="utf-8") as f:
        raw = json.load(f)
    smap = {item: n for n, item in enumerate(raw["set_order"], start=1)}
    train, val, test = {}, {}, {}
    for uid, user in enumerate(sorted(raw["seqs"], key=int), start=1):
        seq = [smap[i] for i in raw["seqs"][user]]
        train[uid], val[uid], test[uid] = seq[:-2], seq[-2:-1], seq[-1:]
    return train, val, test, len(smap)


def rank_metrics(scores, targets, ks=(5, 10, 20), batch_means=None):
    """Recall/NDCG/MRR@k for one positive; ties counted pessimistically (rank = #scores >= target). Per-user mean, or
    with batch_means=b the original test()'s mean over consecutive batches of b users of each batch's mean."""
    import torch

    tgt = scores.gather(1, targets.unsqueeze(1))
    ranks = (scores >= tgt).sum(1).float()  # 1-based, pessimistic

    def average(values):
        if batch_means is None:
            return values.mean().item()
        return torch.stack([part.mean() for part in values.split(batch_means)]).mean().item()

    out = {}
    for k in ks:
        hit = (ranks <= k).float()
        out[f"Recall@{k}"] = average(hit)
        out[f"NDCG@{k}"] = average(hit / torch.log2(ranks + 1))
        out[f"MRR@{k}"] = average(hit / ranks)
    return out


def score_users(model, history, answers, users, max_len, mask_history, batch=128):
    """Scores of every user's next item over all items, and the targets."""
    import torch

    from data import eval_inputs

    model.eval()
    all_scores, all_targets = [], []
    with torch.no_grad():
        for start in range(0, len(users), batch):
            part = users[start : start + batch]
            seqs = eval_inputs(history, part, max_len)
            scores = model(seqs)[:, -1, :].clone()
            if mask_history:
                scores.scatter_(1, seqs, -1e9)
                scores[:, 0] = -1e9
            all_scores.append(scores)
            all_targets.append(torch.tensor([answers[u][0] for u in part]))
    model.train()
    return torch.cat(all_scores), torch.cat(all_targets)


def evaluate(model, history, answers, users, max_len, mask_history, batch_means=None):
    return rank_metrics(*score_users(model, history, answers, users, max_len, mask_history), batch_means=batch_means)


def main(argv):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    from data import training_windows, windows_to_tensors
    from models import adamw, build

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.split_json:
        train, val, test, num_items = split_from_json(args.split_json)
    else:
        train, val, test, num_items = leave_one_out(five_core(read_movielens(args.data_dir)))
    users = sorted(train)
    tokens, labels = windows_to_tensors(training_windows(train, args.max_len), args.max_len)
    model = build(args.model, num_items, args.max_len, args.dropout)
    opt = adamw(model)
    ce = torch.nn.CrossEntropyLoss(ignore_index=0)
    gen = torch.Generator().manual_seed(args.seed)
    test_history = {u: train[u] + val[u] for u in users}

    best, best_state, best_step, bad, step, t0 = -1.0, None, 0, 0, 0, time.time()
    order, cursor = torch.randperm(tokens.size(0), generator=gen), 0

    def validate():
        return evaluate(model, train, val, users, args.max_len, mask_history=False, batch_means=args.batch)["Recall@10"]

    score = validate()  # the original validates once before training
    best, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    while step < args.max_steps and bad < args.patience:
        if cursor >= tokens.size(0):
            order, cursor = torch.randperm(tokens.size(0), generator=gen), 0
        idx = order[cursor : cursor + args.batch]  # the last batch of an epoch may be short, as with a DataLoader
        cursor += args.batch
        opt.zero_grad(set_to_none=True)
        logits = model(tokens[idx])
        loss = ce(logits.reshape(-1, logits.size(-1)), labels[idx].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        if step % args.val_every == 0:
            score = validate()
            if score > best:
                best, best_step, bad = score, step, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
            print(f"step {step} loss {loss.item():.4f} val R@10 {score:.4f} best {best:.4f}@{best_step}", file=sys.stderr)

    model.load_state_dict(best_state)
    test_scores = score_users(model, test_history, test, users, args.max_len, mask_history=True)
    metrics = rank_metrics(*test_scores)
    batch_means = rank_metrics(*test_scores, batch_means=args.batch)
    print(
        json.dumps(
            {
                "model": args.model,
                "framework": "pytorch",
                "dataset": "ml-latest-small",
                "protocol": "full-ranking",
                "seed": args.seed,
                "dropout": args.dropout,
                "split": "authors (set order)" if args.split_json else "sorted ids",
                "threads": args.threads,
                "users": len(users),
                "items": num_items,
                "steps": step,
                "best_step": best_step,
                "stopped_by": "patience" if bad >= args.patience else "max-steps",
                "val_Recall@10_unmasked_batch_means": round(best, 4),
                "metrics": {k: round(v, 6) for k, v in metrics.items()},
                f"metrics_batch_means_b{args.batch}": {k: round(v, 6) for k, v in batch_means.items()},
                "wall_s": round(time.time() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
