"""Loads a LRURec/LlamaRec-style dataset.json and builds the training windows of docs/model-recipes.md section 0."""
import json

import torch


def load_dataset(path):
    """Returns (train, val, test, num_items); train/val/test map uid (int) -> list of item ids (1..num_items)."""
    with open(path, "r", encoding="utf-8") as f:
        raw = json.load(f)
    for key in ("train", "val", "test", "smap"):
        if key not in raw:
            raise ValueError(f"{path}: field '{key}' missing (expected the LRURec dataset.json layout)")

    def ints(split):
        return {int(u): [int(i) for i in items] for u, items in raw[split].items()}

    train, val, test = ints("train"), ints("val"), ints("test")
    num_items = len(raw["smap"])
    top = max(max(s) for s in train.values() if s)
    if top > num_items:
        raise ValueError(f"{path}: item id {top} in 'train' exceeds len(smap) = {num_items}")
    return train, val, test, num_items


def training_windows(train, max_len, sliding=1.0):
    """Whole sequence if shorter than max_len + step, else non-overlapping windows stepping back from the end."""
    step = int(sliding * max_len)
    windows = []
    for u in sorted(train):
        seq = train[u]
        if len(seq) < max_len + step:
            windows.append(seq)
        else:
            windows.extend(seq[i : i + max_len] for i in range(len(seq) - max_len, -1, -step))
    return windows


def windows_to_tensors(windows, max_len):
    """tokens = seq[:-1][-L:], labels = seq[-L:], both left-padded with 0 (the first item is predicted from padding)."""
    tokens = torch.zeros(len(windows), max_len, dtype=torch.long)
    labels = torch.zeros(len(windows), max_len, dtype=torch.long)
    for row, seq in enumerate(windows):
        lab = seq[-max_len:]
        tok = seq[:-1][-max_len:]
        if lab:
            labels[row, max_len - len(lab) :] = torch.tensor(lab)
        if tok:
            tokens[row, max_len - len(tok) :] = torch.tensor(tok)
    return tokens, labels


def eval_inputs(history, users, max_len):
    """Last max_len items of each user's history, left-padded."""
    out = torch.zeros(len(users), max_len, dtype=torch.long)
    for row, u in enumerate(users):
        seq = history[u][-max_len:]
        if seq:
            out[row, max_len - len(seq) :] = torch.tensor(seq)
    return out
