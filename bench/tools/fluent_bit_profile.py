#!/usr/bin/env python3
"""Where a Fluent Bit process spends its CPU time, by part of the pipeline.

The shipped `fluent-bit` binary is stripped: its exported functions (most of
Fluent Bit and WAMR's API) have dynamic symbols, its static functions (among
them WAMR's interpreter loop) do not. Each sample is attributed by walking its
call stack from the leaf: the first frame that names a known part decides; a
frame inside WAMR's interpreter loop counts as the module's own work, and so
does a leaf in AOT code (WAMR names it to perf through /tmp/perf-PID.map).
The loop, `wasm_interp_call_func_bytecode`, is static: it is the function
(by its .eh_frame range) right before the exported
`wasm_interp_get_handle_table`, which follows it in wasm_interp_fast.c
(`--interp START-END` overrides).

Usage:
  perf record -F 1000 --call-graph dwarf,16384 -o fb.perf -- fluent-bit -q -c pipeline.conf
  python3 bench/tools/fluent_bit_profile.py fb.perf [--binary PATH] [--interp 0x396430-0x39aebe]

Prints a table: part, share of samples, CPU seconds (samples / frequency).
"""

import argparse
import bisect
import re
import subprocess
import sys
from collections import Counter

# (part, patterns matched against a frame's symbol), in the order they are
# tried at each frame; a frame matching none is skipped (its caller decides).
PARTS = [
    ("record -> JSON for the module (flb_msgpack_to_json_str)",
     [r"^flb_msgpack_to_json_str$", r"^flb_msgpack_raw_to_json", r"^flb_utils_write_str"]),
    ("module's JSON answer -> MessagePack (flb_pack_json, yyjson)",
     [r"^flb_pack_json", r"^yyjson_", r"^flb_pack_"]),
    ("copies into/out of the module (dup_data, module_free, validate, strdup)",
     [r"^wasm_runtime_module_dup_data$", r"^wasm_runtime_module_malloc", r"^wasm_runtime_module_free",
      r"^wasm_runtime_validate_app_str_addr$", r"^wasm_runtime_addr_app_to_native$",
      r"^flb_strdup$", r"^gc_alloc_vo", r"^gc_free_vo", r"^mem_allocator_"]),
    ("WAMR call set-up (lookup, call_wasm outside the interpreter)",
     [r"^wasm_runtime_lookup_function$", r"^wasm_runtime_call_wasm$", r"^wasm_interp_call_wasm$",
      r"^wasm_runtime_get_exception", r"^wasm_lookup_function"]),
    ("filter plumbing (log event decoder/encoder, wasm filter loop)",
     [r"^flb_log_event_", r"^cb_wasm_filter", r"^flb_filter_do$", r"^msgpack_"]),
    ("other filters (grep, nest, lua)",
     [r"^flb_regex", r"^onig", r"^flb_ra_", r"^flb_lua", r"^lua", r"^lj_"]),
    # flb_parser_*: the docker multiline parser here (the parser filter's
    # entry is a static function: read a chain's profile with care).
    ("tail input + multiline parser",
     [r"^flb_tail_", r"^in_tail_", r"^flb_ml_", r"^ml_", r"^flb_input_", r"^flb_parser"]),
    ("output (file plugin, engine, tasks)",
     [r"^cb_file_flush", r"^flb_output_", r"^flb_engine", r"^flb_task_", r"^flb_event_"]),
]

INTERPRETER = "WAMR interpreter (the module's own instructions)"
AOT_CODE = "AOT-compiled module code"


def fde_ranges(binary):
    """(start, end) of every function with an .eh_frame entry, sorted."""
    text = subprocess.run(["readelf", "--debug-dump=frames", binary],
                          capture_output=True, text=True, check=True).stdout
    ranges = sorted({(int(a, 16), int(b, 16))
                     for a, b in re.findall(r" FDE .*pc=([0-9a-f]+)\.\.([0-9a-f]+)", text)})
    return ranges


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("perf_data")
    parser.add_argument("--binary", default=None, help="the fluent-bit binary (default: from perf)")
    parser.add_argument("--interp", default=None, help="START-END of WAMR's interpreter loop (hex)")
    parser.add_argument("--frequency", type=float, default=1000.0, help="perf record -F (for seconds)")
    args = parser.parse_args()

    script = subprocess.run(["perf", "script", "-i", args.perf_data, "-F", "comm,tid,ip,sym,dso"],
                            capture_output=True, text=True).stdout
    samples = []
    stack = []
    for line in script.splitlines():
        if not line.strip():
            if stack:
                samples.append(stack)
            stack = []
            continue
        if not line.startswith(("\t", " ")):
            continue
        parts = line.strip().split(None, 1)
        address = int(parts[0], 16)
        rest = parts[1] if len(parts) > 1 else ""
        match = re.match(r"(.*?)\s*\((.*)\)$", rest)
        symbol, dso = (match.group(1), match.group(2)) if match else (rest, "")
        stack.append((address, symbol, dso))
    if stack:
        samples.append(stack)

    binary_dsos = Counter(dso for s in samples for _, _, dso in s if dso.endswith("fluent-bit"))
    binary = args.binary or (binary_dsos.most_common(1)[0][0] if binary_dsos else None)
    if args.interp:
        start, end = (int(x, 16) for x in args.interp.split("-"))
    else:
        symbols = subprocess.run(["nm", "-D", "--defined-only", binary],
                                 capture_output=True, text=True, check=True).stdout
        anchor = re.search(r"^([0-9a-f]+) T wasm_interp_get_handle_table$", symbols, re.M)
        if not anchor:
            sys.exit("no wasm_interp_get_handle_table in the binary: pass --interp START-END")
        ranges = fde_ranges(binary)
        starts = [r[0] for r in ranges]
        start, end = ranges[bisect.bisect_left(starts, int(anchor.group(1), 16)) - 1]
    print(f"interpreter loop: {start:#x}-{end:#x} in {binary}", file=sys.stderr)

    compiled = [(name, [re.compile(p) for p in patterns]) for name, patterns in PARTS]
    counts = Counter()
    for s in samples:
        part = None
        if re.search(r"perf-\d+\.map|\[anon|//anon", s[0][2]):
            counts[AOT_CODE] += 1
            continue
        for address, symbol, dso in s:
            if dso == binary and start <= address < end:
                part = INTERPRETER
                break
            if dso.startswith("[kernel"):
                continue
            for name, patterns in compiled:
                if any(p.search(symbol) for p in patterns):
                    part = name
                    break
            if part:
                break
        if part is None:
            leaf = s[0]
            if leaf[2].startswith("[kernel"):
                part = "kernel (other)"
            elif re.match(r"^(__)?(memmove|memcpy|memset|malloc|free|_int_|realloc|calloc)", leaf[1]):
                part = "libc memory (other callers)"
            else:
                part = "other"
        counts[part] += 1
    total = sum(counts.values())
    print(f"| part | share | CPU s |\n|---|---|---|")
    for part, n in counts.most_common():
        print(f"| {part} | {100.0 * n / total:.1f} % | {n / args.frequency:.2f} |")
    print(f"| all ({total} samples at {args.frequency:.0f} Hz) | 100 % | {total / args.frequency:.2f} |")


if __name__ == "__main__":
    main()
