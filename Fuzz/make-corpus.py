#!/usr/bin/env python3
"""Builds the seed corpus of the codec fuzz target from Tests/Fixtures.

    Fuzz/make-corpus.py [output directory, default .build-fuzz/seeds]

Seeds: every line of every fixture file (WAL lines, snapshot headers and records, manifests
and archive segments line by line), every whole .json file, the `data` and `prev` members of
every WAL line on their own (as the fixture wrote them: cut out of the line, not re-encoded),
and a few inputs that once broke the codec. One file per seed, named by its SHA-1, so that
running the script again adds nothing twice.
"""
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")

# Inputs that broke the codec before (issue 12): a repeated key, an integer-valued double that
# changed value through parse -> serialize -> parse, and neighbours of both.
KNOWN = [
    b'{"status":"a","status":"b"}',
    b'509149616095639774e0',
    b'{"priority":1,"priority":2.5,"title":"x","title":null}',
    b'[9007199254740993,9223372036854775807,9223372036854775808,-9223372036854775809,1e400,-0.0,5e-324]',
    b'{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"a","prev":null,"data":{"a":1,"a":2},"batch":2}',
    b'{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"a","prev":{"$set":{"x":1},"$unset":["y"]},"data":{"x":2,"y":3},"encoding":"delta"}',
    b'{"ts":"2026-01-01T00:00:00.000Z","op":"delete","id":"e\xcc\x81","prev":{"x":1},"agent":"A","clock":3}',
]


def member_bytes(line, key):
    """The raw bytes of a top-level member's value, cut from the line by a small scanner."""
    try:
        decoded = json.loads(line)
    except ValueError:
        return None
    if not isinstance(decoded, dict) or key not in decoded:
        return None
    value, end = json.JSONDecoder().raw_decode(line[line.index('"%s":' % key) + len(key) + 3:])
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def main():
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build-fuzz", "seeds")
    os.makedirs(output, exist_ok=True)
    seeds = list(KNOWN)
    for directory, _, files in sorted(os.walk(FIXTURES)):
        for name in sorted(files):
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                content = handle.read()
            if name.endswith(".json"):
                seeds.append(content)
            for line in content.split(b"\n"):
                if not line.strip():
                    continue
                seeds.append(line)
                text = line.decode("utf-8", "replace")
                for key in ("data", "prev"):
                    value = member_bytes(text, key)
                    if value is not None:
                        seeds.append(value)
    written = 0
    for seed in seeds:
        target = os.path.join(output, hashlib.sha1(seed).hexdigest())
        if not os.path.exists(target):
            with open(target, "wb") as handle:
                handle.write(seed)
            written += 1
    print("fuzz: %d seeds in %s (%d new)" % (len(os.listdir(output)), output, written))


if __name__ == "__main__":
    main()
