"""dist/ as scripts/dist.sh builds it, checked the way a user would use it:

- every file has the version in its name, a line in SHA256SUMS that holds,
  and a row in MANIFEST.md; nothing else is there;
- the module, the WASI command and the component are the bytes the test
  suite ran (target/), and the module imports nothing;
- the WASI command runs under a WASI runtime, the npm tarball installs and
  works in Node, the ConfigMap validates and carries the module;
- Fluent Bit runs the module and the x86-64 AOT module (the aarch64 one is
  checked for its architecture only), and Vector validates vector.toml,
  with the versions MANIFEST.md names.

Run by .ci/run after `bash scripts/dist.sh`:
target/py/bin/python -m unittest discover -s tests/dist
"""

import base64
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile
import unittest

import kubernetes_validate
import wasmtime
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from project import ROOT, dist_name, real_host  # noqa: E402

DIST = ROOT / "dist"
KINDS = ["module", "aot-x86_64", "aot-aarch64", "wasi", "component", "npm", "configmap", "vector"]
BUILT = {
    "module": ROOT / "target/wasm32-unknown-unknown/release/twingate_analytics.wasm",
    "wasi": ROOT / "target/wasm32-wasip1/release/twingate.wasm",
    "component": ROOT / "target/wasm32-wasip2/release/twingate_component.wasm",
    "vector": ROOT / "vector.toml",
}
# The target section of a WAMR AOT file (after the magic, the version and
# the section header): its ELF machine number (bytes 22-23) and its
# architecture name (bytes 48-63).
AOT_MACHINE = {"aot-x86_64": (62, b"x86_64"), "aot-aarch64": (183, b"aarch64")}
ANALYTICS = '{"log":"ANALYTICS {\\"user\\":{\\"email\\":\\"a@example.com\\"},\\"timestamp\\":1}\\n"}\n'
SERVICE = '{"log":"[INFO] [connector] State: Online\\n"}\n'


def path(kind):
    return DIST / dist_name(kind)


def manifest():
    return (DIST / "MANIFEST.md").read_text()


def manifest_row(kind):
    name = dist_name(kind)
    rows = [line for line in manifest().splitlines() if line.startswith(f"| `{name}` |")]
    if len(rows) != 1:
        raise AssertionError(f"MANIFEST.md has {len(rows)} rows for {name}")
    return rows[0]


def setUpModule():
    if not (DIST / "SHA256SUMS").is_file():
        raise AssertionError("dist/ is not built: run `bash scripts/dist.sh`")


class Files(unittest.TestCase):
    def test_every_file_is_summed_listed_and_versioned(self):
        sums = {}
        for line in (DIST / "SHA256SUMS").read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            sums[name] = digest
        present = {p.name for p in DIST.iterdir()} - {"SHA256SUMS"}
        self.assertEqual(set(sums), present, "SHA256SUMS names exactly the files of dist/")
        for name, digest in sums.items():
            self.assertEqual(hashlib.sha256((DIST / name).read_bytes()).hexdigest(), digest, name)
        version = re.search(r"^# twingate-analytics (\S+)$", manifest(), re.M).group(1)
        artifacts = present - {"MANIFEST.md"}
        for name in artifacts:
            self.assertIn(f"-{version}.", name, "the version is in every name")
        listed = set(re.findall(r"^\| `([^`]+)` \|", manifest(), re.M))
        self.assertEqual(listed, artifacts, "MANIFEST.md has a row for every artifact")
        expected = {dist_name(kind) for kind in KINDS}
        if not path("aot-x86_64").exists():
            self.assertNotEqual(os.environ.get("TWINGATE_REQUIRE_REAL_HOSTS"), "1",
                                "CI builds the AOT modules: set FLB_WAMRC or FLUENT_BIT")
            expected -= {dist_name("aot-x86_64"), dist_name("aot-aarch64")}
        self.assertEqual(artifacts, expected)

    def test_the_built_files_are_the_ones_the_tests_ran(self):
        for kind, built in BUILT.items():
            with self.subTest(kind=kind):
                self.assertEqual(path(kind).read_bytes(), built.read_bytes())

    def test_the_module_imports_nothing_and_exports_every_filter(self):
        module = wasmtime.Module.from_file(wasmtime.Engine(), str(path("module")))
        self.assertEqual(list(module.imports), [])
        exports = {export.name for export in module.exports}
        for profile in ("flatten", "ecs", "ocsf"):
            self.assertTrue({f"twingate_{profile}", f"twingate_{profile}_keep"} <= exports)

    def test_the_component_is_a_component(self):
        header = path("component").read_bytes()[:8]
        # \0asm, then version 0x0d and layer 1: a component, not a core module.
        self.assertEqual(header, b"\0asm\x0d\x00\x01\x00")

    def test_the_aot_modules_are_for_their_architecture(self):
        for kind, (machine, arch) in AOT_MACHINE.items():
            if not path(kind).exists():
                continue  # test_every_file_is_summed_listed_and_versioned says why
            with self.subTest(kind=kind):
                data = path(kind).read_bytes()
                self.assertEqual(data[:4], b"\0aot")
                self.assertEqual(int.from_bytes(data[22:24], "little"), machine)
                self.assertTrue(data[48:64].startswith(arch), data[48:64])


class Deployables(unittest.TestCase):
    def test_the_wasi_command_runs_under_a_wasi_runtime(self):
        with open(ROOT / "examples/logs/docker.log", "rb") as source:
            result = subprocess.run(
                [sys.executable, str(ROOT / "tests/deploy/wasi_run.py"), str(path("wasi")), "--format", "docker", "-"],
                stdin=source, capture_output=True,
            )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"42 records in (42 lines, docker) \xe2\x86\x92 30 events", result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 31)  # 30 events + 1 error record

    def test_the_configmap_validates_and_carries_the_module(self):
        configmap = yaml.safe_load(path("configmap").read_text())
        for version in ("1.32.0", "1.37.0"):
            kubernetes_validate.validate(configmap, version, strict=True)
        data = base64.b64decode(configmap["binaryData"][dist_name("module")], validate=True)
        self.assertEqual(data, path("module").read_bytes())

    def test_the_npm_package_installs_and_works_in_node(self):
        with tarfile.open(path("npm")) as tar:
            package = json.load(tar.extractfile("package/package.json"))
            wasm = tar.extractfile("package/pkg/twingate_analytics_bg.wasm").read()
        self.assertEqual(package["name"], "@twingate-analytics/transform")
        self.assertIn(package["version"], path("npm").name)
        self.assertEqual(wasm, (ROOT / "js/pkg/twingate_analytics_bg.wasm").read_bytes())
        with tempfile.TemporaryDirectory() as project:
            subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--silent",
                            str(path("npm"))], cwd=project, check=True)
            script = ("const t = require('@twingate-analytics/transform');"
                      "console.log(JSON.stringify(t.transformLine('ANALYTICS {\"user\":{\"email\":\"a@b.c\"}}')))")
            out = subprocess.run(["node", "-e", script], cwd=project, check=True,
                                 capture_output=True, text=True).stdout
        self.assertEqual(json.loads(out)["fields"], {"user.email": "a@b.c"})
        self.assertIn(f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}",
                      manifest_row("npm"))


class RealHosts(unittest.TestCase):
    def test_fluent_bit_runs_the_module_and_the_x86_64_aot_module(self):
        fluent_bit = real_host("FLUENT_BIT", "fluent-bit")
        if fluent_bit is None:
            self.skipTest("no Fluent Bit")
        version = subprocess.run([fluent_bit, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        for kind in ("module", "aot-x86_64"):
            if not path(kind).exists():
                continue  # test_every_file_is_summed_listed_and_versioned says why
            with self.subTest(kind=kind):
                self.assertIn(version, manifest_row(kind))
                result = subprocess.run(
                    [fluent_bit, "-q", "-i", "stdin",
                     "-F", "wasm", "-m", "*", "-p", f"wasm_path={path(kind)}",
                     "-p", "function_name=twingate_flatten", "-p", "wasm_heap_size=4M",
                     "-o", "stdout", "-m", "*", "-p", "format=json_lines"],
                    input=ANALYTICS + SERVICE, capture_output=True, text=True, timeout=60,
                )
                self.assertEqual(result.returncode, 0, result.stderr)
                records = [json.loads(line) for line in result.stdout.splitlines()]
                self.assertEqual(len(records), 1, f"the event only (the service line is dropped): {result.stdout}")
                self.assertEqual(records[0]["user.email"], "a@example.com")

    def test_vector_validates_the_vector_config(self):
        vector = real_host("VECTOR", "vector")
        if vector is None:
            self.skipTest("no Vector")
        version = subprocess.run([vector, "--version"], capture_output=True, text=True).stdout.strip()
        self.assertIn(version, manifest_row("vector"))
        result = subprocess.run([vector, "validate", "--no-environment", str(path("vector"))],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
