#!/usr/bin/env python3
"""What wasm code shapes cost in the WAMR inside a real Fluent Bit.

Each probe is a tiny module whose filter function runs a loop of ITERATIONS
iterations per record, each iteration UNROLL copies of one code shape, then
drops the record. Fluent Bit runs it over RECORDS short records; the CPU time
of the process (user + sys) minus that of the empty-loop probe, divided by
the shapes executed, is the cost of one shape in nanoseconds, in WAMR's fast
interpreter. (Compiled AOT, LLVM removes these loops' dead work: there the
shapes cost what the same native code costs.)

Usage (wabt's wat2wasm must be installed: apt-get install wabt):
  FLUENT_BIT=../shared/tools/fluent-bit/fluent-bit python3 bench/tools/wamr_probes.py [--repeat 3] [--only NAME ...]
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile

RECORDS = 2_000
ITERATIONS = 5_000
UNROLL = 10

# Helper functions every probe module carries.
HELPERS = """
  (func $small (param i32) (result i32)
    local.get 0 i32.const 1 i32.add)
  (func $six_params (param i32 i32 i32 i32 i32 i32) (result i32)
    local.get 0 local.get 5 i32.add)
  (func $many_locals (param i32) (result i32)
    (local {many_locals})
    local.get 0 i32.const 1 i32.add)
  (func $i64_param (param i64) (result i64)
    local.get 0 i64.const 1 i64.add)
  (table 1 funcref) (elem (i32.const 0) $small)
  (type $t_small (func (param i32) (result i32)))
""".replace("{many_locals}", " ".join(["i32"] * 64))

# name -> (what it measures, one unrolled body; locals $a $b $p $x $y $z i32/i64)
SHAPES = {
    "empty": ("the loop alone (the baseline)", ""),
    "i32_add": ("i32.add of two locals into a local", "local.get $a local.get $b i32.add local.set $a"),
    "i32_const_op": ("i32 op with a constant (xor)", "local.get $a i32.const 7 i32.xor local.set $a"),
    "i32_chain3": ("three dependent i32 ops into a local",
                   "local.get $a i32.const 7 i32.xor i32.const 3 i32.shl local.get $b i32.add local.set $a"),
    "i64_add": ("i64.add of two locals into a local", "local.get $x local.get $y i64.add local.set $x"),
    "i64_swar": ("SWAR zero-byte test on an i64 (5 ops)",
                 "local.get $x i64.const 0x0101010101010101 i64.sub local.get $x i64.const -1 i64.xor i64.and "
                 "i64.const 0x8080808080808080 i64.and local.set $y"),
    "i32_load": ("i32.load into a local", "local.get $p i32.load offset=8 local.set $a"),
    "i32_load8_u": ("i32.load8_u into a local", "local.get $p i32.load8_u offset=3 local.set $a"),
    "i64_load": ("i64.load into a local", "local.get $p i64.load offset=8 local.set $x"),
    "i32_store": ("i32.store of a local", "local.get $p local.get $a i32.store offset=16"),
    "i32_store8": ("i32.store8 of a local", "local.get $p local.get $a i32.store8 offset=16"),
    "local_tee": ("local.tee then an op (value kept on the stack)",
                  "local.get $a i32.const 1 i32.add local.tee $b local.get $b i32.add local.set $a"),
    "local_copy": ("local.get + local.set (a copy)", "local.get $a local.set $b"),
    "far_local_add": ("i32.add into a local beyond WAMR's 256-cell fast range",
                      "local.get $far_a local.get $far_b i32.add local.set $far_a"),
    "global_sp": ("global.get + i32.sub + global.set (Rust's stack pointer)",
                  "global.get $sp i32.const 16 i32.sub global.set $sp global.get $sp i32.const 16 i32.add global.set $sp"),
    "br_if_not_taken": ("block + br_if not taken", "block local.get $zero br_if 0 end"),
    "if_else": ("if/else on a local", "local.get $zero if local.get $a local.set $b else local.get $b local.set $a end"),
    "select": ("select between two locals", "local.get $a local.get $b local.get $zero select local.set $a"),
    "br_table4": ("br_table over 4 targets",
                  "block block block block local.get $a i32.const 3 i32.and br_table 0 1 2 3 end end end end"),
    "call_small": ("call of a 1-parameter function (i32 -> i32)", "local.get $a call $small local.set $a"),
    "call_six": ("call of a 6-parameter function", "local.get $a local.get $b local.get $a local.get $b local.get $a local.get $b call $six_params local.set $a"),
    "call_64_locals": ("call of a function with 64 i32 locals", "local.get $a call $many_locals local.set $a"),
    "call_i64": ("call of an i64 -> i64 function", "local.get $x call $i64_param local.set $x"),
    "call_indirect": ("call_indirect of the 1-parameter function",
                      "local.get $a local.get $zero call_indirect (type $t_small) local.set $a"),
    "memory_copy_8": ("memory.copy of 8 bytes", "local.get $p i32.const 512 i32.add local.get $p i32.const 8 memory.copy"),
    "memory_copy_64": ("memory.copy of 64 bytes", "local.get $p i32.const 512 i32.add local.get $p i32.const 64 memory.copy"),
    "memory_copy_512": ("memory.copy of 512 bytes", "local.get $p i32.const 1024 i32.add local.get $p i32.const 512 memory.copy"),
    "memory_fill_64": ("memory.fill of 64 bytes", "local.get $p i32.const 0 i32.const 64 memory.fill"),
}


def module(shape_body):
    far_locals = " ".join(["i64"] * 130)  # 260 cells: $far_a/$far_b sit beyond cell 256
    body = "\n      ".join([shape_body] * UNROLL) if shape_body else ""
    return f"""(module
  (memory (export "memory") 2)
  (global $sp (mut i32) (i32.const 65536))
  {HELPERS}
  (func (export "probe") (param i32 i32 i32 i32 i32 i32) (result i32)
    (local $i i32) (local $a i32) (local $b i32) (local $p i32) (local $zero i32)
    (local $x i64) (local $y i64) (local $z i64)
    (local {far_locals}) (local $far_a i32) (local $far_b i32)
    i32.const 4096 local.set $p
    i32.const 3 local.set $a
    i32.const 5 local.set $b
    i64.const 0x1234567890 local.set $x
    i64.const 77 local.set $y
    i32.const 1 local.set $far_a
    i32.const 2 local.set $far_b
    i32.const {ITERATIONS} local.set $i
    loop $loop
      {body}
      local.get $i i32.const 1 i32.sub local.tee $i
      br_if $loop
    end
    i32.const 0))
"""


def cpu_of(fluent_bit, config):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([fluent_bit, "-q", "-c", config], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"fluent-bit failed on {config}:\n{result.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per probe (the median is used)")
    parser.add_argument("--only", nargs="*", help="probe names")
    args = parser.parse_args()
    fluent_bit = os.environ.get("FLUENT_BIT") or shutil.which("fluent-bit")
    if not fluent_bit:
        sys.exit("set FLUENT_BIT to the fluent-bit binary")
    work = tempfile.mkdtemp(prefix="wamr-probes-")
    records = os.path.join(work, "records.log")
    with open(records, "w") as f:
        for i in range(RECORDS):
            f.write('{"log":"[INFO] probe %d\\n","stream":"stdout","time":"2026-12-04T00:00:00Z"}\n' % i)
    names = args.only or list(SHAPES)
    if "empty" not in names:
        names = ["empty"] + names
    costs = {}
    for name in names:
        wat = os.path.join(work, name + ".wat")
        wasm = os.path.join(work, name + ".wasm")
        with open(wat, "w") as f:
            f.write(module(SHAPES[name][1]))
        subprocess.run(["wat2wasm", "--enable-all", wat, "-o", wasm], check=True)
        path = wasm
        config = os.path.join(work, name + ".conf")
        with open(config, "w") as f:
            f.write(f"""[SERVICE]
    Flush 0.2
    Grace 0
    Log_Level warn
[INPUT]
    Name tail
    Path {records}
    Read_From_Head On
    Exit_On_Eof On
[FILTER]
    Name wasm
    Match *
    Wasm_Path {path}
    Function_Name probe
[OUTPUT]
    Name null
    Match *
""")
        runs = sorted(cpu_of(fluent_bit, config) for _ in range(args.repeat))
        costs[name] = runs[len(runs) // 2]
    shapes = RECORDS * ITERATIONS * UNROLL
    print(f"interpreted; {RECORDS} records x {ITERATIONS} iterations x {UNROLL} shapes; median of {args.repeat}")
    print("| shape | ns per shape | CPU s |\n|---|---|---|")
    for name in names:
        ns = (costs[name] - costs["empty"]) / shapes * 1e9
        label = SHAPES[name][0]
        if name == "empty":
            ns = costs[name] / (RECORDS * ITERATIONS) * 1e9
            label += " (ns per iteration)"
        print(f"| `{name}`: {label} | {ns:.2f} | {costs[name]:.2f} |")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
