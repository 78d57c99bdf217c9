#!/usr/bin/env bash
# Installs the PyTorch reference's only dependencies from Debian (the only Python source reachable here besides
# nothing: no PyPI). reclm itself never needs Python; this is for bench/torch only.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch python3-numpy libopenblas0-pthread
# Debian's torch links the generic libblas.so.3; without OpenBLAS the alternatives system leaves it on the
# netlib reference BLAS, which is several times slower and would make the comparison unfair to PyTorch.
update-alternatives --display libblas.so.3-x86_64-linux-gnu | sed -n 2p
# Debian's torch lives in the system interpreter's dist-packages; pyenv shims would hide it.
/usr/bin/python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'threads', torch.get_num_threads())"
