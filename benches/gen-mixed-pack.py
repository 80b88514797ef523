"""Writes the archive benchmark pack: pack.yaml and FILES files in 50 folders, BYTES in all,
a fifth of the files incompressible (random) and the rest text that deflate shrinks about
tenfold, so a .tar.gz is a bit over half the size of the tree. Deterministic (seeded).

Usage: gen-mixed-pack.py ROOT [FILES] [MEGABYTES]
"""
import os
import random
import sys

root = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
total = (int(sys.argv[3]) if len(sys.argv) > 3 else 100) << 20
rng = random.Random(12)
words = [("w%03d" % i) * rng.randint(1, 3) for i in range(24)]
os.makedirs(root)
with open(f"{root}/pack.yaml", "w") as f:
    f.write("ref: bench\nversion: 1.0.0\n")
# Half the bytes in the random fifth of the files, half in the text ones.
random_size = total // 2 // (n // 5)
text_size = total // 2 // (n - n // 5)


def text(size):
    out, length = [], 0
    while length < size:
        line = " ".join(rng.choices(words, k=12)) + "\n"
        out.append(line)
        length += len(line)
    return "".join(out)[:size].encode()


for i in range(n):
    d = f"{root}/actions/group{i % 50}"
    os.makedirs(d, exist_ok=True)
    if i % 5 == 0:
        body = rng.randbytes(random_size // 2 + rng.randrange(random_size))
        name = f"{d}/blob{i}.bin"
    else:
        body = text(text_size // 2 + rng.randrange(text_size))
        name = f"{d}/a{i}.yaml"
    with open(name, "wb") as f:
        f.write(body)
