"""Runs a WASI command module the way `wasmtime run` does, for the tests.

    python wasi_run.py [--dir HOST_DIR[::GUEST_DIR]]... MODULE [ARGS...]

Standard input, output and error are the process's own; the exit status is
the module's (`proc_exit`), or 70 when it traps. The host is the PyPI
`wasmtime` package (tests/python/requirements.txt), which installs in
seconds where building a Rust WASI host (the wasmtime-wasi crate) takes
minutes; the edge boxes themselves use the `wasmtime` CLI.
"""

import sys

import wasmtime

# EX_SOFTWARE: the module trapped (a bug: the command must never trap).
TRAP_STATUS = 70


def main(argv):
    dirs = []
    while len(argv) >= 2 and argv[0] == "--dir":
        host, _, guest = argv[1].partition("::")
        dirs.append((host, guest or host))
        argv = argv[2:]
    if not argv:
        sys.exit("usage: wasi_run.py [--dir HOST_DIR[::GUEST_DIR]]... MODULE [ARGS...]")
    module_path, args = argv[0], argv[1:]

    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, module_path)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["twingate"] + args
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    for host, guest in dirs:
        wasi.preopen_dir(host, guest, fs_mutable=False)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    try:
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        return exit_trap.code
    except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
        print(f"wasi_run: {module_path} trapped: {trap}", file=sys.stderr)
        return TRAP_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
