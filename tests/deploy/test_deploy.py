"""The deployment examples, checked without a cluster or a Fluent Bit:

- every Kubernetes manifest validates against the Kubernetes API schemas
  (the kubernetes-validate package, offline, strict: unknown fields fail);
- the ConfigMap and the Helm values embed examples/fluent-bit/kubernetes.yaml
  word for word, and mount the module where its wasm_path says;
- module-configmap.sh makes a valid ConfigMap holding the built module byte
  for byte, within the 1 MiB limit;
- every Fluent Bit YAML config calls an export the module has, as JSON, with
  a heap for long lines, and every filter and output matches an input;
- the edge config buffers on disk, and the systemd units run command lines
  the WASI command accepts (run here on the corpus).

Run by .ci/test: target/py/bin/python -m unittest discover -s tests/deploy
(needs the module and the WASI command built, and tests/python/venv.sh).
"""

import base64
import configparser
import hashlib
import fnmatch
import pathlib
import re
import shlex
import subprocess
import sys
import unittest

import kubernetes_validate
import wasmtime
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from project import dist_name  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "target/wasm32-unknown-unknown/release/twingate_analytics.wasm"
WASI_COMMAND = ROOT / "target/wasm32-wasip1/release/twingate.wasm"
KUBERNETES = ROOT / "examples/kubernetes"
K8S_CONFIG = ROOT / "examples/fluent-bit/kubernetes.yaml"
EDGE = ROOT / "examples/edge"
# The oldest Kubernetes release still supported upstream, and the newest
# the package knows.
KUBERNETES_VERSIONS = ["1.32.0", "1.37.0"]
# The API server refuses a ConfigMap over 1 MiB.
CONFIGMAP_LIMIT = 1 << 20
MODULE_CONFIGMAP = "twingate-analytics-wasm"

# The examples install and name the released files (dist/) as they are.
# The module as released (twingate-analytics-VERSION.wasm): the ConfigMap's
# key, and the file every config's wasm_path names.
MODULE_KEY = dist_name("module")
WASI_INSTALLED = "/opt/twingate-analytics/" + dist_name("wasi")
VERSION_BUMP = ("every example names the released files of the current version: "
                "after a version change, replace the old version in examples/ and docs/")


def need(path, how):
    if not path.is_file():
        raise AssertionError(f"{path} is missing: {how}")


def module_exports():
    need(MODULE, "cargo build --release -p twingate-analytics --target wasm32-unknown-unknown")
    module = wasmtime.Module.from_file(wasmtime.Engine(), str(MODULE))
    return {export.name for export in module.exports}


def parse_size(text):
    """Fluent Bit's sizes: bytes, or a number with K, M or G (1024-based)."""
    text = str(text).strip().upper().removesuffix("B")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def manifests(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def module_configmap():
    """The ConfigMap module-configmap.sh prints for the built module."""
    module_exports()  # the module is there
    out = subprocess.run(
        ["bash", str(KUBERNETES / "module-configmap.sh")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out, yaml.safe_load(out)


def fluent_bit_configs():
    """Every Fluent Bit YAML config a user may copy."""
    files = sorted((ROOT / "examples/fluent-bit").glob("*.yaml"))
    files.append(EDGE / "fluent-bit.yaml")
    return {str(f.relative_to(ROOT)): yaml.safe_load(f.read_text()) for f in files}


def input_tags(pipeline):
    """The tags records may carry: the inputs' (a `*` stands for any text)
    and the ones rewrite_tag rules give."""
    tags = [i["tag"].replace("*", "x.y") for i in pipeline.get("inputs", [])]
    for f in pipeline.get("filters", []):
        if f.get("name") == "rewrite_tag":
            rules = f["rule"] if isinstance(f["rule"], list) else [f["rule"]]
            tags += [rule.split()[2] for rule in rules]
    return tags


class KubernetesManifests(unittest.TestCase):
    def test_every_manifest_validates_against_the_api_schemas(self):
        _, configmap = module_configmap()
        docs = manifests(KUBERNETES / "fluent-bit-daemonset.yaml") + [configmap]
        kinds = sorted(doc["kind"] for doc in docs)
        self.assertEqual(
            kinds,
            sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                    "ConfigMap", "ConfigMap", "DaemonSet"]),
        )
        for version in KUBERNETES_VERSIONS:
            for doc in docs:
                with self.subTest(kind=doc["kind"], version=version):
                    kubernetes_validate.validate(doc, version, strict=True)

    def test_the_validator_rejects_a_broken_manifest(self):
        daemonset = next(d for d in manifests(KUBERNETES / "fluent-bit-daemonset.yaml")
                         if d["kind"] == "DaemonSet")
        daemonset["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(daemonset, KUBERNETES_VERSIONS[-1], strict=True)

    def test_the_configmap_holds_the_example_config_word_for_word(self):
        docs = manifests(KUBERNETES / "fluent-bit-daemonset.yaml")
        configmap = next(d for d in docs if d["kind"] == "ConfigMap")
        self.assertEqual(
            configmap["data"]["fluent-bit.yaml"],
            K8S_CONFIG.read_text(),
            "fluent-bit-daemonset.yaml: the ConfigMap differs from "
            "examples/fluent-bit/kubernetes.yaml; copy it over (indented)",
        )

    def test_the_daemonset_mounts_what_the_config_names(self):
        docs = {d["kind"]: d for d in manifests(KUBERNETES / "fluent-bit-daemonset.yaml")}
        config = yaml.safe_load(K8S_CONFIG.read_text())
        pod = docs["DaemonSet"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        # The config file Fluent Bit is told to read is the ConfigMap's key.
        config_path = pathlib.PurePosixPath(container["args"][container["args"].index("-c") + 1])
        config_volume = volumes[mounts[str(config_path.parent)]]
        self.assertEqual(config_volume["configMap"]["name"], docs["ConfigMap"]["metadata"]["name"])
        self.assertIn(config_path.name, docs["ConfigMap"]["data"])
        # wasm_path is the module ConfigMap's key, where it is mounted.
        check_module_mount(self, config, volumes, mounts)
        # The tail input's files and its db are on mounted host paths.
        tail = next(i for i in config["pipeline"]["inputs"] if i["name"] == "tail")
        for path in (tail["path"], tail["db"]):
            mount = longest_mount(mounts, path)
            self.assertIsNotNone(mount, f"{path} is on no mounted volume")
            self.assertIn("hostPath", volumes[mounts[mount]], path)
        # Only the connector's pods: the tail path names them.
        self.assertIn("twingate", tail["path"])
        self.assertEqual(tail["multiline.parser"], "cri")
        # The service account is the one the RBAC binding names.
        self.assertEqual(pod["serviceAccountName"], docs["ServiceAccount"]["metadata"]["name"])
        subject = docs["ClusterRoleBinding"]["subjects"][0]
        self.assertEqual(
            (subject["name"], subject["namespace"]),
            (docs["ServiceAccount"]["metadata"]["name"],
             docs["ServiceAccount"]["metadata"]["namespace"]),
        )
        self.assertIn("limits", container["resources"])

    def test_the_module_configmap_is_the_built_module_and_fits(self):
        text, configmap = module_configmap()
        self.assertEqual(configmap["metadata"]["name"], MODULE_CONFIGMAP)
        data = base64.b64decode(configmap["binaryData"][MODULE_KEY], validate=True)
        self.assertEqual(data, MODULE.read_bytes(), "binaryData is the built module")
        self.assertLess(len(text.encode()), CONFIGMAP_LIMIT)
        annotations = configmap["metadata"]["annotations"]
        self.assertEqual(annotations["twingate-analytics/module-bytes"], str(len(data)))
        self.assertEqual(annotations["twingate-analytics/module-sha256"],
                         hashlib.sha256(data).hexdigest())

    def test_the_module_configmap_script_refuses_a_missing_module(self):
        result = subprocess.run(
            ["bash", str(KUBERNETES / "module-configmap.sh"), "/nonexistent/m.wasm"],
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 1)
        self.assertIn("no module at /nonexistent/m.wasm: build it with", result.stderr)
        self.assertEqual(result.stdout, "")


def longest_mount(mounts, path):
    candidates = [m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")]
    return max(candidates, key=len, default=None)


def check_module_mount(test, config, volumes, mounts):
    wasm = next(f for f in config["pipeline"]["filters"] if f["name"] == "wasm")
    wasm_path = pathlib.PurePosixPath(wasm["wasm_path"])
    volume = volumes[mounts[str(wasm_path.parent)]]
    test.assertEqual(volume["configMap"]["name"], MODULE_CONFIGMAP)
    test.assertIn({"key": MODULE_KEY, "path": wasm_path.name}, volume["configMap"]["items"])


class FluentBitHelmValues(unittest.TestCase):
    values = yaml.safe_load((KUBERNETES / "fluent-bit-values.yaml").read_text())

    def test_the_values_embed_the_example_config_word_for_word(self):
        self.assertEqual(
            self.values["config"]["extraFiles"]["twingate.yaml"],
            K8S_CONFIG.read_text(),
            "fluent-bit-values.yaml: twingate.yaml differs from "
            "examples/fluent-bit/kubernetes.yaml; copy it over (indented)",
        )
        # The chart mounts its ConfigMap, extraFiles included, at
        # /fluent-bit/etc/conf; Fluent Bit must read ours from there.
        self.assertIn("--config=/fluent-bit/etc/conf/twingate.yaml", self.values["args"])
        self.assertEqual(self.values["kind"], "DaemonSet")

    def test_the_values_mount_the_module_and_the_host_paths(self):
        config = yaml.safe_load(K8S_CONFIG.read_text())
        volumes = {v["name"]: v for v in self.values["extraVolumes"] + self.values["daemonSetVolumes"]}
        mounts = {m["mountPath"]: m["name"]
                  for m in self.values["extraVolumeMounts"] + self.values["daemonSetVolumeMounts"]}
        check_module_mount(self, config, volumes, mounts)
        tail = next(i for i in config["pipeline"]["inputs"] if i["name"] == "tail")
        for path in (tail["path"], tail["db"]):
            self.assertIsNotNone(longest_mount(mounts, path), path)

    def test_the_pod_pieces_validate_against_the_api_schemas(self):
        """The chart puts these values into its DaemonSet as they are: check
        them inside one."""
        values = self.values
        daemonset = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "fluent-bit"},
            "spec": {
                "selector": {"matchLabels": {"app": "fluent-bit"}},
                "template": {
                    "metadata": {"labels": {"app": "fluent-bit"}},
                    "spec": {
                        "tolerations": values["tolerations"],
                        "volumes": values["extraVolumes"] + values["daemonSetVolumes"],
                        "containers": [{
                            "name": "fluent-bit",
                            "image": f"cr.fluentbit.io/fluent/fluent-bit:{values['image']['tag']}",
                            "args": values["args"],
                            "ports": [{"name": "http", "containerPort": 2020}],
                            "readinessProbe": values["readinessProbe"],
                            "resources": values["resources"],
                            "volumeMounts": values["extraVolumeMounts"]
                            + values["daemonSetVolumeMounts"],
                        }],
                    },
                },
            },
        }
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(daemonset, version, strict=True)


def readme_pipeline():
    """The Fluent Bit pipeline of the README's common case."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Fluent Bit: the common case", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)["pipeline"]


class FluentBitConfigs(unittest.TestCase):
    def test_the_readme_pipeline_is_docker_yaml_shortened(self):
        """Every plugin and key the README shows is in examples/fluent-bit/docker.yaml
        with the same value, and its filter runs the module as released."""
        full = yaml.safe_load((ROOT / "examples/fluent-bit/docker.yaml").read_text())["pipeline"]
        shown = readme_pipeline()
        self.assertEqual(set(shown), {"inputs", "filters", "outputs"})
        for section, plugins in shown.items():
            for plugin in plugins:
                with self.subTest(section=section, plugin=plugin["name"]):
                    [same] = [p for p in full[section] if p["name"] == plugin["name"]]
                    for key, value in plugin.items():
                        self.assertEqual(value, same[key], f"README {section} {plugin['name']}.{key}")
        [wasm] = shown["filters"]
        self.assertIn(wasm["function_name"], module_exports())
        self.assertEqual(pathlib.PurePosixPath(wasm["wasm_path"]).name, MODULE_KEY, VERSION_BUMP)

    def test_every_config_runs_the_module_as_the_readme_says(self):
        exports = module_exports()
        configs = fluent_bit_configs()
        self.assertIn("examples/edge/fluent-bit.yaml", configs)
        for name, config in configs.items():
            with self.subTest(config=name):
                pipeline = config["pipeline"]
                wasm = [f for f in pipeline["filters"] if f["name"] == "wasm"]
                self.assertEqual(len(wasm), 1, "one wasm filter")
                wasm = wasm[0]
                self.assertIn(wasm["function_name"], exports)
                self.assertRegex(wasm["function_name"], r"^twingate_(flatten|ecs|ocsf)(_keep)?$")
                self.assertEqual(wasm["event_format"], "json")
                self.assertGreaterEqual(parse_size(wasm["wasm_heap_size"]), 1 << 20,
                                        "a heap for long lines")
                self.assertEqual(pathlib.PurePosixPath(wasm["wasm_path"]).name, MODULE_KEY,
                                 VERSION_BUMP)
                tags = input_tags(pipeline)
                for plugin in pipeline["filters"] + pipeline["outputs"]:
                    if "match_regex" in plugin:
                        pattern = plugin["match_regex"]
                        matches = [t for t in tags if re.search(pattern, t)]
                    else:
                        pattern = plugin["match"]
                        matches = [t for t in tags if fnmatch.fnmatchcase(t, pattern)]
                    self.assertTrue(matches, f"{plugin['name']}: {pattern} matches no tag of {tags}")
                for i in pipeline["inputs"]:
                    if i["name"] == "tail":
                        self.assertIn("cri", i["multiline.parser"])

    def test_the_edge_config_buffers_on_disk_and_delivers_twice(self):
        config = yaml.safe_load((EDGE / "fluent-bit.yaml").read_text())
        self.assertTrue(config["service"]["storage.path"].startswith("/var/lib/"))
        pipeline = config["pipeline"]
        [journal] = pipeline["inputs"]
        self.assertEqual(journal["name"], "systemd")
        self.assertEqual(journal["systemd_filter"], "_SYSTEMD_UNIT=twingate-connector.service")
        self.assertEqual(journal["storage.type"], "filesystem")
        self.assertIn("db", journal)
        outputs = {o["name"]: o for o in pipeline["outputs"]}
        self.assertEqual(outputs["file"]["format"], "plain")
        self.assertTrue({"forward", "http"} <= outputs.keys())
        for name in ("forward", "http"):
            self.assertEqual(outputs[name]["retry_limit"], "no_limits", name)
        for name, output in outputs.items():
            self.assertGreater(parse_size(output["storage.total_limit_size"]), 0, name)

    def test_every_line_of_the_edge_config_is_explained(self):
        """Each key sits under a comment (its own or its block's)."""
        lines = (EDGE / "fluent-bit.yaml").read_text().splitlines()
        unexplained = []
        for number, line in enumerate(lines):
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or stripped.endswith(":"):
                continue
            above = [l.strip() for l in lines[max(0, number - 12):number]]
            if not any(l.startswith("#") for l in above):
                unexplained.append(f"{number + 1}: {line}")
        self.assertEqual(unexplained, [])


def unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


def wasi_arguments(exec_start):
    """The arguments the unit passes to twingate.wasm (up to `>>`)."""
    script = shlex.split(exec_start)[-1]
    words = shlex.split(script)
    start = words.index(WASI_INSTALLED) + 1
    return words[start:words.index(">>")]


class EdgeUnits(unittest.TestCase):
    def run_wasi(self, args, stdin):
        need(WASI_COMMAND, "cargo build --release -p twingate-cli --target wasm32-wasip1 "
                           "--no-default-features")
        with open(stdin, "rb") as source:
            return subprocess.run(
                [sys.executable, str(ROOT / "tests/deploy/wasi_run.py"), str(WASI_COMMAND), *args],
                stdin=source,
                capture_output=True,
            )

    def check_unit(self, name, reads, sample):
        service = unit(EDGE / name)["Service"]
        self.assertEqual(service["Restart"], "always")
        exec_start = service["ExecStart"]
        self.assertIn(reads, exec_start)
        self.assertIn(f"wasmtime run {WASI_INSTALLED} ", exec_start, VERSION_BUMP)
        self.assertIn(">> %L/twingate-analytics/events.ndjson", exec_start)
        self.assertIn("pipefail", exec_start)
        # The unit's own arguments, on the corpus shape it reads.
        args = wasi_arguments(exec_start)
        result = self.run_wasi(args, ROOT / "tests/corpus" / sample)
        self.assertEqual(result.returncode, 0, result.stderr)
        events = result.stdout.decode().splitlines()
        self.assertGreater(len(events), 1000, f"{name}: {args}")
        self.assertIn(b"1441 events", result.stderr)

    def test_the_journal_unit_runs_the_command_on_journal_records(self):
        self.check_unit("twingate-analytics.service",
                        "journalctl --unit=twingate-connector.service --output=json --follow",
                        "journal.ndjson")

    def test_the_docker_unit_runs_the_command_on_raw_lines(self):
        self.check_unit("twingate-analytics-docker.service",
                        'docker logs --follow $$from "$CONTAINER" 2>&1', "connector.log")

    def test_logrotate_rotates_what_the_units_and_fluent_bit_write(self):
        text = (EDGE / "twingate-analytics.logrotate").read_text()
        self.assertIn("/var/log/twingate-analytics/*.ndjson {", text)
        self.assertIn("copytruncate", text)
        file_output = next(o for o in yaml.safe_load((EDGE / "fluent-bit.yaml").read_text())
                           ["pipeline"]["outputs"] if o["name"] == "file")
        self.assertEqual(file_output["path"], "/var/log/twingate-analytics")
        self.assertTrue(file_output["file"].endswith(".ndjson"))


if __name__ == "__main__":
    unittest.main()
