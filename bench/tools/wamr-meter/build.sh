#!/bin/sh
# Builds wamr-meter against a WAMR source tree, configured as Fluent Bit
# 5.1.1 configures it (src/wasm/CMakeLists.txt: fast interpreter, AOT
# loading, libc builtin + WASI, pthreads, reference types, no SIMD, no JIT):
#   meter        CPU time per record
#   meter-count  interpreter dispatches per record (instruction metering)
#   meter-ops    interpreter dispatches by opcode (WAMR's opcode counter)
#   meter-fprof  interpreter dispatches by wasm function (WAMR's profiler,
#                counting dispatches instead of reading the clock)
# (the patches to a copy of wasm_interp_fast.c: patch.py)
#
#   bench/tools/wamr-meter/build.sh WAMR_SOURCE_DIR [OUT_DIR]
#
# WAMR_SOURCE_DIR: Fluent Bit's lib/wasm-micro-runtime-WAMR-2.4.1, or a
# checkout of bytecodealliance/wasm-micro-runtime at tag WAMR-2.4.1.
# Needs cmake, python3 and a C compiler. VARIANTS="meter meter-ops" builds
# only those.
set -eu
src=$(cd "$1" && pwd)
out=${2:-/tmp/wamr-meter}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for variant in ${VARIANTS:-meter meter-count meter-ops meter-fprof}; do
    tree="$out/src-$variant"
    rm -rf "$tree"
    cp -r "$src" "$tree"
    extra=""
    interp="$tree/core/iwasm/interpreter/wasm_interp_fast.c"
    case $variant in
    meter-count)
        extra="-DWAMR_BUILD_INSTRUCTION_METERING=1"
        python3 "$here/patch.py" "$interp" count ;;
    meter-ops)
        extra="-DWAMR_BUILD_OPCODE_COUNTER=1"
        python3 "$here/patch.py" "$interp" ops ;;
    meter-fprof)
        extra="-DWAMR_BUILD_INSTRUCTION_METERING=1 -DWAMR_BUILD_PERF_PROFILING=1"
        python3 "$here/patch.py" "$interp" fprof ;;
    esac
    build="$out/build-$variant"
    mkdir -p "$build"
    cat > "$build/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.14)
project(wamr_meter C)
set(CMAKE_BUILD_TYPE Release)
set(WAMR_BUILD_PLATFORM linux)
set(WAMR_BUILD_TARGET X86_64)
set(WAMR_BUILD_INTERP 1)
set(WAMR_BUILD_FAST_INTERP 1)
set(WAMR_BUILD_AOT 1)
set(WAMR_BUILD_JIT 0)
set(WAMR_BUILD_LIBC_BUILTIN 1)
set(WAMR_BUILD_LIBC_WASI 1)
set(WAMR_BUILD_LIB_PTHREAD 1)
set(WAMR_BUILD_REF_TYPES 1)
set(WAMR_BUILD_SIMD 0)
set(WAMR_ROOT_DIR $tree)
include(\${WAMR_ROOT_DIR}/build-scripts/runtime_lib.cmake)
add_executable($variant $here/meter.c \${WAMR_RUNTIME_LIB_SOURCE})
target_link_libraries($variant m pthread dl)
CMAKE
    case $variant in
    meter-count | meter-fprof) echo "target_compile_definitions($variant PRIVATE METER_DISPATCHES)" >> "$build/CMakeLists.txt" ;;
    meter-ops) echo "target_compile_definitions($variant PRIVATE METER_OPS WASM_ENABLE_OPCODE_COUNTER=1)" >> "$build/CMakeLists.txt" ;;
    esac
    (cd "$build" && cmake -S . -B b $extra > cmake.log && cmake --build b -j 2 > make.log 2>&1) \
        || { tail -30 "$build/make.log"; exit 1; }
    cp "$build/b/$variant" "$out/$variant"
done
echo "built: $out/meter $out/meter-count $out/meter-ops $out/meter-fprof"
