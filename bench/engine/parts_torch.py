"""PyTorch timings of the pieces bench/engine/parts.ts measures in reclm's engine (same sizes, same names).

    /usr/bin/python3 bench/engine/parts_torch.py [--threads 1] [--reps 5] [--R 25600] [--V 3417] [--D 64]
Reports process CPU time (user+sys, load-independent with 1 thread) and wall time, min over interleaved repetitions.
"""
import argparse
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--R", type=int, default=25600)
ap.add_argument("--V", type=int, default=3417)
ap.add_argument("--D", type=int, default=64)
a = ap.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(a.threads)
import torch  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(1)
R, V, D = a.R, a.V, a.D
t = torch.randint(1, V, (R,))
t[::7] = 0
ce = torch.nn.CrossEntropyLoss(ignore_index=0)


def mk(*shape, grad):
    return (torch.randn(*shape) * 0.5).requires_grad_(grad)


def mm_fwd():
    with torch.no_grad():
        h, E = mk(R, D, grad=False), mk(V, D, grad=False)
        return lambda: h @ E.T


def mm_grad(which):
    h, E = mk(R, D, grad=which == "h"), mk(V, D, grad=which == "E")
    return lambda: (h @ E.T).sum().backward()


def ce_piece(grad):
    z = mk(R, V, grad=grad)
    if grad:
        return lambda: ce(z, t).backward()
    return lambda: ce(z, t)


def head():
    h, E = mk(R, D, grad=True), mk(V, D, grad=True)
    return lambda: ce(h @ E.T, t).backward()


pieces = {"mm.fwd": mm_fwd(), "mm.dE": mm_grad("E"), "mm.dh": mm_grad("h"), "ce.fwd": ce_piece(False), "ce": ce_piece(True), "head": head()}
for f in pieces.values():
    f()
cpu = {k: [] for k in pieces}
wall = {k: [] for k in pieces}
for _ in range(a.reps):
    for k, f in pieces.items():
        c0, w0 = time.process_time(), time.perf_counter()
        f()
        cpu[k].append((time.process_time() - c0) * 1000)
        wall[k].append((time.perf_counter() - w0) * 1000)
print(f"torch {torch.__version__}, R={R} V={V} D={D}, {a.threads} thread(s), {a.reps} reps, load {os.getloadavg()[0]:.2f}")
for k in pieces:
    print(f"{k:12s} cpu min {min(cpu[k]):8.1f} ms  wall min {min(wall[k]):8.1f} ms")
