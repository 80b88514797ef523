"""Writes a large Attune registry index: PACKS packs x 5 versions, entries shaped like the
test suite's (tests/testsuite/support/registry.rs `entry()`), with realistic descriptions,
keywords and contents lists. Deterministic (a fixed seed), so runs compare.

Usage: gen-index.py OUT [PACKS] [EXTRA_REF EXTRA_ARCHIVE]
  PACKS defaults to 10000. With EXTRA_REF and EXTRA_ARCHIVE (a .tar.gz of a pack whose
  pack.yaml says `ref: EXTRA_REF`, `version: 1.0.0`), that pack is added as one more entry
  whose archive source is a file:// URL with its sha256, so it installs from a local
  archive.
"""
import hashlib
import json
import os
import random
import sys

out = sys.argv[1]
packs = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
rng = random.Random(12)

WORDS = (
    "alert api audit backup bucket cache certificate cloud cluster compute container cron "
    "database deploy dns docker email event file firewall git health host incident "
    "instance jira kubernetes ldap load log metric monitor network node notify oauth "
    "pager password pipeline queue release report repository restart role rotate scale "
    "secret server service slack snapshot ssh storage stream task ticket token topic "
    "user vault volume webhook workflow zone"
).split()
VERBS = "create delete get list update sync restart check send post fetch rotate scale".split()
VERSIONS = ["0.9.0", "1.0.0", "1.2.3", "1.10.0", "2.0.0"]


def sentence(n):
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def items(n):
    return [
        {"name": f"{rng.choice(VERBS)}_{rng.choice(WORDS)}_{i}", "description": sentence(5)}
        for i in range(n)
    ]


def entry(ref, version, sources, topic):
    return {
        "ref": ref,
        "label": f"{topic.capitalize()} {ref.split('-')[-1]}",
        "version": version,
        "description": f"Integrates {topic} with Attune: " + sentence(10),
        "author": f"{rng.choice(WORDS).capitalize()} Maintainers",
        "license": rng.choice(["MIT", "Apache-2.0", "BSD-3-Clause"]),
        "repository": f"https://github.com/attune-packs/{ref}",
        "keywords": [topic] + rng.sample(WORDS, 2),
        "runtime_deps": [],
        "install_sources": sources,
        "contents": {
            "actions": items(rng.randint(1, 3)),
            "sensors": items(rng.randint(0, 1)),
            "triggers": [],
            "rules": [],
            "workflows": [],
        },
    }


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


entries = []
for i in range(packs):
    topic = rng.choice(WORDS)
    ref = f"{topic}-{i:05d}"
    for v in VERSIONS:
        digest = sha(f"{ref}@{v}".encode())
        sources = [
            {"type": "archive", "url": f"https://cdn.example.org/packs/{ref}-{v}.tar.gz",
             "checksum": digest},
        ]
        entries.append(entry(ref, v, sources, topic))

if len(sys.argv) > 4:
    extra_ref, archive = sys.argv[3], os.path.abspath(sys.argv[4])
    with open(archive, "rb") as f:
        digest = sha(f.read())
    source = {"type": "archive", "url": f"file://{archive}", "checksum": digest}
    entries.insert(len(entries) // 2, entry(extra_ref, "1.0.0", [source], "bench"))

doc = {"registry_name": "bench", "version": "1.0", "last_updated": "2026-11-24T00:00:00Z",
       "packs": entries}
with open(out, "w") as f:
    json.dump(doc, f)
