#!/usr/bin/env python3
"""Patches a copy of WAMR's wasm_interp_fast.c for one wamr-meter variant.

  patch.py FILE count   keep the dispatches left (instruction metering) in
                        exec_env when the outermost call returns
  patch.py FILE ops     the opcode counter dumps once, on request (exported
                        as wamr_meter_dump_op_count), not after every call
  patch.py FILE fprof   the per-function profiler counts dispatches instead
                        of reading the CPU clock (which costs more than the
                        small functions it times)
"""
import re
import sys

path, variant = sys.argv[1], sys.argv[2]
text = open(path).read()
WRITE_BACK = "exec_env->instructions_to_execute = instructions_left;"


def sub(pattern, replacement, count=0):
    global text
    new, n = re.subn(pattern, replacement, text, count=count, flags=re.M)
    if n == 0:
        sys.exit(f"patch.py: {pattern!r} not found in {path}: another WAMR version?")
    text = new


if variant in ("count", "fprof"):
    # Before returning to native code.
    sub(r"^(\s*)if \(!prev_frame->ip\)$", r"\1" + WRITE_BACK + r"\n\g<0>")
if variant == "fprof":
    # Inside the interpreter loop: before each frame is made or freed.
    sub(r"^(\s*)if \(!\(frame = ALLOC_FRAME\(exec_env, frame_size, prev_frame\)\)\) \{$",
        r"\1" + WRITE_BACK + r"\n\g<0>")
    sub(r"^(\s*)FREE_FRAME\(exec_env, frame\);\n(?=\s*wasm_exec_env_set_cur_frame\(exec_env, \(WASMRuntimeFrame \*\)prev_frame\);)",
        r"\1" + WRITE_BACK + r"\n\g<0>")
    # The profiler's clock: dispatches executed so far.
    sub(r"^ALLOC_FRAME\(WASMExecEnv \*exec_env",
        "#define os_time_thread_cputime_us() ((uint64)(0x7fffffff - exec_env->instructions_to_execute))\n\\g<0>")
if variant == "ops":
    sub(r"^(\s*)wasm_interp_dump_op_count\(\);$", r"\1/* dumped by wamr-meter */")
    sub(r"^static void\nwasm_interp_dump_op_count\(\)", "void\nwamr_meter_dump_op_count()")
open(path, "w").write(text)
