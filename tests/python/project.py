"""What the Python tests share: the repository root, the names of dist/
(scripts/dist.sh is the one place they are made), and the real hosts,
found as tests/support/real_host.rs finds them."""

import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRE = "TWINGATE_REQUIRE_REAL_HOSTS"


def dist_name(kind):
    """The file name of one artifact of dist/ (`scripts/dist.sh --name`)."""
    return subprocess.run(
        ["bash", str(ROOT / "scripts/dist.sh"), "--name", kind],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def real_host(env, command):
    """The path of a real host (FLUENT_BIT=..., or `fluent-bit` on PATH), or
    None after printing the one line that says the check was skipped and how
    to run it. Fails when TWINGATE_REQUIRE_REAL_HOSTS=1 (CI) or when the
    variable names no file."""
    path = os.environ.get(env)
    if path:
        if not os.path.isfile(path):
            raise AssertionError(f"{env}={path} does not exist: point {env} at the {command} binary, or unset it")
        return path
    path = shutil.which(command)
    if path:
        return path
    if os.environ.get(REQUIRE) == "1":
        raise AssertionError(f"{REQUIRE}=1 but no {command} was found: set {env} to its binary")
    print(f"SKIPPED: no {command} binary (set {env}=/path/to/{command} or put `{command}` on PATH to run it)",
          file=sys.stderr)
    return None
