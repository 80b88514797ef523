"""Writes the benchmark pack: pack.yaml and FILES small action files in 50 folders.

Usage: gen-pack.py ROOT FILES [REF]. Shared by compare.sh, durable.sh and bundle.sh so
they measure one kind of pack.
"""
import os
import sys

root, n = sys.argv[1], int(sys.argv[2])
ref = sys.argv[3] if len(sys.argv) > 3 else "bench"
os.makedirs(root)
with open(f"{root}/pack.yaml", "w") as f:
    f.write(f"ref: {ref}\nversion: 1.0.0\n")
for i in range(n):
    d = f"{root}/actions/group{i % 50}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/a{i}.yaml", "w") as f:
        f.write(f"name: action{i}\n# {'x' * (1024 + (i * 37) % 3072)}\n")
