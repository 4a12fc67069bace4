#!/usr/bin/env python3
"""Speed of the two Vector doors inside the real Vector, same input, one run.

    python3 vector/tools/real_vector_bench.py [--lines N] [--runs R] [--seed S] [--keep]

Generates a corpus (tests/tools/gen_corpus.py, into a temporary directory,
never into the repository) and feeds its journal records (`journalctl -o
json`, N of them) to three pipelines in the same Vector binary, R times each
in rotation:

  baseline  the journald source straight into two file sinks: Vector
            reading and writing the records, no transform;
  vrl       vector.toml as shipped (journald source, the VRL remap, the
            route, its sinks);
  exec      examples/vector/exec.toml as shipped (the exec source running
            `journalctl ... | twingate --native --format journal -`, the
            event-time remap, the route, its sinks);
  exec -t   the same without the event-time remap (what that remap costs);

and, for scale, the CLI alone on the same file (`twingate --native --format
journal FILE > /dev/null`), the transform of the exec door without Vector.

`journalctl` is a stand-in that prints the records once (the journald source
and exec.toml both run it), `twingate` is this workspace's CLI; sinks write
to files in the temporary directory (console sinks become file sinks). A run
ends when the sinks hold every record expected; its wall time is from
Vector's start to then, its CPU time is Vector's and its children's (the
CLI, the stand-in), user + system, as the kernel counts them for waited-for
children. Prints a Markdown table (medians of the runs) and the ratios
against the vrl door.

Environment: VECTOR (the binary; default `vector` on PATH), TWINGATE (the
CLI; default target/release/twingate).
"""

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600


def fail(message):
    sys.exit(f"real_vector_bench: {message}")


def find_vector():
    path = os.environ.get("VECTOR") or shutil.which("vector")
    if not path or not Path(path).is_file():
        fail("no Vector binary: set VECTOR=/path/to/vector or put `vector` on PATH")
    return Path(path).resolve()


def find_twingate():
    path = Path(os.environ.get("TWINGATE") or ROOT / "target/release/twingate")
    if not path.is_file():
        fail(f"{path} is missing: cargo build --release -p twingate-cli")
    return path.resolve()


def stand_ins(bin_dir, journal, twingate):
    """journalctl (prints the journal once per run, then nothing) and twingate."""
    bin_dir.mkdir(parents=True)
    marker = bin_dir / "served"
    script = bin_dir / "journalctl"
    script.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = --version ]; then echo 'systemd 252 (252.33-1~deb12u1)'; exit 0; fi\n"
        f"[ -e '{marker}' ] && exit 0\n"
        f": > '{marker}'\n"
        f"exec cat '{journal}'\n"
    )
    script.chmod(0o755)
    (bin_dir / "twingate").symlink_to(twingate)
    return script, marker


def redirect(config, run_dir):
    """data_dir and every sink into run_dir (console sinks become file sinks)."""
    config["data_dir"] = str(run_dir / "data")
    for name, sink in config.get("sinks", {}).items():
        sink["type"] = "file"
        sink.pop("target", None)
        sink["path"] = str(run_dir / f"{name}.ndjson")
    return config


def pipelines(journalctl):
    vrl = tomllib.loads((ROOT / "vector.toml").read_text())
    for source in vrl["sources"].values():
        source["journalctl_path"] = str(journalctl)
    exec_ = tomllib.loads((ROOT / "examples/vector/exec.toml").read_text())
    baseline = {
        "sources": {"journal": {"type": "journald", "journalctl_path": str(journalctl)}},
        "sinks": {
            name: {"type": "file", "inputs": ["journal"], "encoding": {"codec": "json"}}
            for name in ("copy_a", "copy_b")
        },
    }
    no_time = json.loads(json.dumps(exec_))
    del no_time["transforms"]["twingate_event_time"]
    no_time["transforms"]["twingate_split"]["inputs"] = list(exec_["transforms"]["twingate_event_time"]["inputs"])
    return {"baseline": baseline, "vrl": vrl, "exec": exec_, "exec -t": no_time}


class LineCounter:
    """Counts the lines of the sink files as they grow, reading only new bytes."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.offsets = {}
        self.lines = 0

    def count(self):
        for path in self.run_dir.glob("*.ndjson"):
            offset = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            self.lines += chunk.count(b"\n")
            self.offsets[path] = offset + len(chunk)
        return self.lines


def run_once(vector, name, config, expected_lines, work, marker, path_env, index):
    run_dir = work / f"{name}-{index}"
    (run_dir / "data").mkdir(parents=True)
    if marker.exists():
        marker.unlink()
    config_file = run_dir / "config.json"
    config_file.write_text(json.dumps(redirect(json.loads(json.dumps(config)), run_dir)))
    env = dict(os.environ, PATH=path_env, VECTOR_LOG="warn")
    counter = LineCounter(run_dir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(run_dir / "vector.log", "wb") as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            [str(vector), "--config", str(config_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        while counter.count() < expected_lines:
            if child.poll() is not None or time.perf_counter() - started > TIMEOUT_S:
                child.kill()
                child.wait()
                fail(f"{name}: {counter.lines} of {expected_lines} lines; see {run_dir}/vector.log")
            time.sleep(0.01)
        wall = time.perf_counter() - started
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if counter.count() != expected_lines:
        fail(f"{name}: {counter.lines} lines, expected {expected_lines}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(run_dir)
    return wall, cpu


def run_cli(twingate, journal):
    """The exec door's transform alone: the CLI over the file, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [str(twingate), "--native", "--format", "journal", str(journal)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    vector = find_vector()
    twingate = find_twingate()
    version = subprocess.run([str(vector), "--version"], capture_output=True, text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="twingate-vector-bench-"))
    try:
        corpus = work / "corpus"
        subprocess.run(
            [sys.executable, str(ROOT / "tests/tools/gen_corpus.py"), str(corpus),
             "--seed", str(args.seed), "--lines", str(args.lines)],
            check=True,
        )
        journal = corpus / "journal.ndjson"
        outcomes = {"event": 0, "drop": 0, "error": 0}
        with open(corpus / "expected.ndjson") as f:
            for line in f:
                outcomes[json.loads(line)["outcome"]] += 1
        records = sum(outcomes.values())
        kept = outcomes["event"] + outcomes["error"]
        journalctl, marker = stand_ins(work / "bin", journal, twingate)
        path_env = f"{work / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        configs = pipelines(journalctl)
        # Lines the sinks hold at the end: the baseline copies every record
        # twice; the doors write events to two sinks, error records to one.
        expected = {
            "baseline": 2 * records,
            "vrl": 2 * outcomes["event"] + outcomes["error"],
            "exec": 2 * outcomes["event"] + outcomes["error"],
            "exec -t": 2 * outcomes["event"] + outcomes["error"],
        }
        names = list(configs)
        results = {name: [] for name in names + ["cli alone"]}
        for i in range(args.runs):
            for name in names[i % len(names):] + names[: i % len(names)]:
                results[name].append(
                    run_once(vector, name, configs[name], expected[name], work, marker, path_env, i)
                )
            results["cli alone"].append(run_cli(twingate, journal))
        names.append("cli alone")
        size = journal.stat().st_size
        print(f"{version}; {records:,} journal records ({size / 1e6:.1f} MB: "
              f"{outcomes['event']:,} events, {outcomes['drop']:,} service lines, "
              f"{outcomes['error']:,} broken); gen_corpus.py --seed {args.seed} --lines {args.lines}; "
              f"median of {args.runs} runs; {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at the end\n")
        print("| pipeline | wall s | records/s | events/s | CPU s | CPU µs/record | CPU vs vrl |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        vrl_cpu = statistics.median(c for _, c in results["vrl"])
        for name in names:
            wall = statistics.median(w for w, _ in results[name])
            cpu = statistics.median(c for _, c in results[name])
            events = outcomes["event"] if name != "baseline" else 0
            print(f"| {name} | {wall:.2f} | {records / wall:,.0f} | "
                  f"{(f'{events / wall:,.0f}' if events else '—')} | {cpu:.2f} | "
                  f"{cpu / records * 1e6:.1f} | {cpu / vrl_cpu:.2f} |")
        print(f"\nkept records: {kept:,}; runs (wall s, CPU s): "
              + "; ".join(f"{n} {[(round(w, 2), round(c, 2)) for w, c in results[n]]}" for n in names))
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
