#!/usr/bin/env python3
"""Rebuilds fuzz/corpus/<target>/ from the shared corpus (tests/corpus):
a few lines of every outcome and shape, small (well under 1 MB in all).

usage: python3 fuzz/make_seeds.py
"""
import hashlib, json, os, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "tests", "corpus")
PER_OUTCOME = 12
MAX_LINE = 6000


def lines(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return f.read().split(b"\n")[:-1]


def pick():
    """Indices: the first PER_OUTCOME of each outcome, plus every hostile
    line short enough (errors), plus one big event."""
    outcomes = [json.loads(l)["outcome"] for l in lines("expected.ndjson")]
    raw = lines("connector.log")
    chosen, count = [], {}
    for i, outcome in enumerate(outcomes):
        if len(raw[i]) > MAX_LINE:
            continue
        if count.get(outcome, 0) < (PER_OUTCOME * 3 if outcome == "error" else PER_OUTCOME):
            count[outcome] = count.get(outcome, 0) + 1
            chosen.append(i)
    return chosen


def write(target, blobs):
    directory = os.path.join(HERE, "corpus", target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for blob in blobs:
        name = hashlib.sha1(blob).hexdigest()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(blob)


def main():
    chosen = pick()
    raw, docker, cri, journal = (lines(n) for n in ("connector.log", "docker.log", "cri.log", "journal.ndjson"))
    syslog = lines("syslog.log")
    write("line", [raw[i] for i in chosen] + [syslog[i] for i in chosen[:10]] + [raw[i] + b"\r\n" for i in chosen[:5]])
    records = [docker[i] for i in chosen] + [journal[i] for i in chosen[:20]]
    records += [json.dumps({"log": raw[i].decode()}, separators=(",", ":")).encode() for i in chosen[:20]]
    write("record", records)
    # abi: [flags][tag_len][record_len LE u32][tag][record NUL more]
    tag = b"twingate.connector"
    abi = []
    for n, r in enumerate(records[:30]):
        abi.append(bytes([n % 8, len(tag)]) + len(r).to_bytes(4, "little") + tag + r + b"\0garbage")
    write("abi", abi)
    # input: a few lines of one shape a file, as a collector writes them.
    inputs = []
    for source in (raw, syslog, docker, cri, journal):
        for start in range(0, min(len(chosen), 40), 8):
            inputs.append(b"\n".join(source[i] for i in chosen[start:start + 8]) + b"\n")
    # Docker split at 16 KiB (partial entries) and CRI P parts.
    inputs.append(b'{"log":"ANALYTICS {\\"a\\":","stream":"stdout","time":"t"}\n{"log":"1}\\n","stream":"stdout","time":"t"}\n')
    inputs.append(b"2026-11-24T12:00:00Z stdout P ANALYTICS {\"a\":\n2026-11-24T12:00:00Z stdout F 1}\n")
    write("input", inputs)


main()
