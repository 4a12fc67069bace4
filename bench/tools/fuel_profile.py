#!/usr/bin/env python3
"""Where a module's wasm instructions go, per function, for a set of records.

usage: fuel_profile.py MODULE.wasm RECORDS [LIMIT] [--points]

MODULE is a build with its name section (e.g. `CARGO_PROFILE_RELEASE_STRIP=none
cargo build --release -p twingate-analytics --target wasm32-unknown-unknown
--target-dir /tmp/prof`); RECORDS has one JSON record a line (Docker lines as
they are). binaryen's `wasm-opt --log-execution` puts a call to an imported
`log_execution(id)` at every function entry and loop header; this host (the
`wasmtime` package from PyPI, fuel on) charges the fuel spent since the
previous call to the previous point. Code after a callee returns is charged
to the callee's last point, so read the figures as regions, not exact
functions; each point also adds a few instructions of its own. The records
run twice and only the second pass counts (warm buffers, as in Fluent Bit).
`--points` also lists the 40 costliest points.
"""
import collections
import re
import subprocess
import sys

import wasmtime

FEATURES = ("--enable-bulk-memory --enable-sign-ext --enable-mutable-globals "
            "--enable-nontrapping-float-to-int --enable-reference-types "
            "--enable-multivalue").split()
INSTRUMENTED = "/tmp/fuel_profile.wasm"


def point_functions():
    """Maps each log point id to the function it sits in."""
    wat = subprocess.run(["wasm-opt", *FEATURES, "-g", INSTRUMENTED, "--print"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    where, function = {}, None
    for i, line in enumerate(wat):
        m = re.match(r"\s*\(func \$(\S+)", line)
        if m:
            function = m.group(1)
        if "call $log_execution" in line:
            # The point's id is the call's operand, on one of the next lines
            # (binaryen may print a `;; code offset` comment in between).
            for following in wat[i + 1:i + 4]:
                m = re.search(r"\(i32\.const (\d+)\)", following)
                if m:
                    where[int(m.group(1))] = function
                    break
    return where


def main():
    args = [a for a in sys.argv[1:] if a != "--points"]
    if len(args) < 2:
        sys.exit(__doc__)
    module, records_path = args[0], args[1]
    limit = int(args[2]) if len(args) > 2 else 300
    subprocess.run(["wasm-opt", *FEATURES, "-g", "--log-execution", module, "-o", INSTRUMENTED],
                   check=True)
    where = point_functions()
    config = wasmtime.Config()
    config.consume_fuel = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    store.set_fuel(10**15)
    charge = collections.Counter()
    state = {"point": None, "fuel": 0}

    def log_execution(point):
        fuel = store.get_fuel()
        if state["point"] is not None:
            charge[state["point"]] += state["fuel"] - fuel
        state["point"], state["fuel"] = point, store.get_fuel()

    linker = wasmtime.Linker(engine)
    linker.define_func("env", "log_execution",
                       wasmtime.FuncType([wasmtime.ValType.i32()], []), log_execution)
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, INSTRUMENTED))
    exports = instance.exports(store)
    memory, flatten = exports["memory"], exports["twingate_flatten"]
    base = memory.grow(store, 64) * 65536  # pages of our own, above the module's heap
    tag = b"twingate.connector"
    memory.write(store, tag, base)
    records = [line.rstrip(b"\n") for line in open(records_path, "rb")][:limit]
    total = size = 0
    for i, record in enumerate(records + records):
        if i == len(records):
            charge.clear()
        memory.write(store, record, base + 64)
        before = store.get_fuel()
        state["point"], state["fuel"] = None, before
        flatten(store, base, len(tag), 0, 0, base + 64, len(record))
        after = store.get_fuel()
        if state["point"] is not None:
            charge[state["point"]] += state["fuel"] - after
        if i >= len(records):
            total += before - after
            size += len(record)
    n = len(records)
    print(f"{n} records: {total / n:.0f} fuel per record with the log points, "
          f"{total / size:.1f} per byte")
    by_function = collections.Counter()
    for point, fuel in charge.items():
        by_function[where.get(point, "?")] += fuel
    for function, fuel in by_function.most_common(25):
        print(f"{fuel / n:9.0f}  {function}")
    if "--points" in sys.argv:
        for point, fuel in charge.most_common(40):
            print(f"{fuel / n:9.0f}  point {point} in {where.get(point)}")


if __name__ == "__main__":
    main()
