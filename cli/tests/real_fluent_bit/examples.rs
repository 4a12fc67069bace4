//! Every Fluent Bit config of the repository, run as written (but for the
//! changes of `config::adapt`) on the corpus laid out as its source lays it
//! out, every output checked record by record and against Fluent Bit's
//! counters; then the same run on the AOT module, which must write the same
//! bytes.

use std::path::Path;

use crate::config::{Config, Format, embedded};
use crate::expect::{DEFAULT_HEAP, Filter, Kind, Tally, Want, check_counters, compare, wanted};
use crate::layout::{self, Source};
use crate::run::{Done, Run};
use crate::support::{Case, all_cases, repo_root};
use crate::{Suite, TestResult, Verdict};

/// Where the connector's lines come from, for a config.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Docker,
    Kubelet,
    Journal,
}

/// A config of the repository: its name in the suite, how to read it, and
/// the source it reads.
pub struct Example {
    pub name: &'static str,
    pub load: fn() -> Config,
    pub shape: Shape,
}

fn file(relative: &str) -> Config {
    Config::load(&repo_root().join(relative))
}

/// Every Fluent Bit config in the repository.
pub const EXAMPLES: [Example; 13] = [
    Example {
        name: "docker.conf",
        load: || file("examples/fluent-bit/docker.conf"),
        shape: Shape::Docker,
    },
    Example {
        name: "docker.yaml",
        load: || file("examples/fluent-bit/docker.yaml"),
        shape: Shape::Docker,
    },
    Example {
        name: "kubernetes.conf",
        load: || file("examples/fluent-bit/kubernetes.conf"),
        shape: Shape::Kubelet,
    },
    Example {
        name: "kubernetes.yaml",
        load: || file("examples/fluent-bit/kubernetes.yaml"),
        shape: Shape::Kubelet,
    },
    Example {
        name: "systemd.conf",
        load: || file("examples/fluent-bit/systemd.conf"),
        shape: Shape::Journal,
    },
    Example {
        name: "systemd.yaml",
        load: || file("examples/fluent-bit/systemd.yaml"),
        shape: Shape::Journal,
    },
    Example {
        name: "keep-and-route.conf",
        load: || file("examples/fluent-bit/keep-and-route.conf"),
        shape: Shape::Docker,
    },
    Example {
        name: "keep-and-route.yaml",
        load: || file("examples/fluent-bit/keep-and-route.yaml"),
        shape: Shape::Docker,
    },
    Example {
        name: "ecs.conf",
        load: || file("examples/fluent-bit/ecs.conf"),
        shape: Shape::Docker,
    },
    Example {
        name: "ecs.yaml",
        load: || file("examples/fluent-bit/ecs.yaml"),
        shape: Shape::Docker,
    },
    Example {
        name: "edge/fluent-bit.yaml",
        load: || file("examples/edge/fluent-bit.yaml"),
        shape: Shape::Journal,
    },
    Example {
        name: "kubernetes/fluent-bit-daemonset.yaml",
        load: || {
            let path = repo_root().join("examples/kubernetes/fluent-bit-daemonset.yaml");
            let text = embedded(&path, &["data", "fluent-bit.yaml"]);
            Config::parse(&text, Format::Yaml).expect("the ConfigMap's config")
        },
        shape: Shape::Kubelet,
    },
    Example {
        name: "kubernetes/fluent-bit-values.yaml",
        load: || {
            let path = repo_root().join("examples/kubernetes/fluent-bit-values.yaml");
            let text = embedded(&path, &["config", "extraFiles", "twingate.yaml"]);
            Config::parse(&text, Format::Yaml).expect("the Helm values' config")
        },
        shape: Shape::Kubelet,
    },
];

/// The corpus's records of one shape.
pub fn corpus(shape: Shape) -> Vec<Case> {
    let name = match shape {
        Shape::Docker => "docker",
        Shape::Kubelet => "cri",
        Shape::Journal => "journal",
    };
    all_cases()
        .into_iter()
        .filter(|c| c.shape == name)
        .collect()
}

/// Lays out `cases` under `root` as `shape`'s source, for `config`'s input.
pub fn lay_out(shape: Shape, root: &Path, cases: &[Case], config: &Config) -> Source {
    match shape {
        Shape::Docker => layout::docker(root, cases),
        Shape::Kubelet => layout::kubelet(root, cases),
        Shape::Journal => {
            let input = &config.inputs[0];
            let strip = input
                .get("strip_underscores")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "yes"));
            layout::journal(root, cases, strip)
        }
    }
}

/// The tag the config's input gives the connector's records.
pub fn connector_tag(config: &Config, shape: Shape, root: &Path) -> String {
    let tag = config.inputs[0].get("tag").expect("the input has a tag");
    let file = match shape {
        Shape::Docker => root
            .join("var/lib/docker/containers")
            .join(layout::CONNECTOR_CONTAINER)
            .join(format!("{}-json.log", layout::CONNECTOR_CONTAINER)),
        Shape::Kubelet => {
            let dir = root.join("var/log/containers");
            let link = std::fs::read_dir(&dir)
                .expect("the kubelet layout")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().contains("twingate-connector"))
                .expect("the connector's log");
            return tail_tag(tag, &link);
        }
        Shape::Journal => return tag.to_owned(),
    };
    tail_tag(tag, &file)
}

/// The tag `tail` gives a file's records: the `*` of the input's tag
/// replaced by the file's path, `/` turned into `.`, no leading, doubled or
/// trailing dot.
pub fn tail_tag(pattern: &str, file: &Path) -> String {
    let Some((prefix, suffix)) = pattern.split_once('*') else {
        return pattern.to_owned();
    };
    let raw = format!("{prefix}{}{suffix}", file.display());
    let mut tag = String::new();
    for c in raw.chars() {
        let c = if matches!(c, '/' | '\\' | ':') {
            '.'
        } else {
            c
        };
        if c == '.' && (tag.is_empty() || tag.ends_with('.')) {
            continue;
        }
        tag.push(c);
    }
    tag.trim_end_matches('.').to_owned()
}

/// The wasm filter of a config, as the checks need it.
pub fn wasm_filter(config: &Config) -> Filter {
    let wasm = config.filter("wasm").expect("a wasm filter");
    let function = wasm.get("function_name").expect("function_name");
    let heap = wasm.get("wasm_heap_size").map_or(DEFAULT_HEAP, parse_size);
    Filter::new(function, heap)
}

/// Fluent Bit's sizes: a number of bytes, or with a K, M or G (1024-based).
pub fn parse_size(text: &str) -> u64 {
    let text = text.trim().to_ascii_uppercase();
    let text = text.trim_end_matches('B');
    let (digits, unit) = match text.chars().last() {
        Some('K') => (&text[..text.len() - 1], 1 << 10),
        Some('M') => (&text[..text.len() - 1], 1 << 20),
        Some('G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().expect("a size") * unit
}

/// One example, with the module under test, checked; returns its outputs
/// for the AOT comparison.
fn run_example(
    suite: &Suite,
    example: &Example,
    module: &Path,
    label: &str,
) -> Result<Done, String> {
    let config = (example.load)();
    let filter = wasm_filter(&config);
    let run = Run::new(suite, &format!("{}.{label}", example.name), config, module);
    let cases = corpus(example.shape);
    let source = lay_out(example.shape, &run.root, &cases, &run.config);
    let tag = connector_tag(&run.config, example.shape, &run.root);
    let (wants, dropped) = wanted(&source.cases, &filter, &tag);
    let tally = Tally::of(&wants, dropped);
    let routed = run.config.filter("rewrite_tag").is_some();
    let outputs = run.outputs.len() as u64;
    let expected = if routed {
        tally.written()
    } else {
        tally.written() * outputs
    };
    let name = run.name.clone();
    let done = run.go(&source, expected)?;
    let mut failures = if routed {
        check_routed(
            &name,
            &done,
            &wants,
            &filter,
            &tally,
            source.neighbour_records,
        )
    } else {
        let mut failures = Vec::new();
        for (i, lines) in done.outputs.iter().enumerate() {
            failures.extend(compare(
                &format!("{name} output {i}"),
                lines,
                &wants,
                &filter,
            ));
        }
        let written = done.outputs.iter().map(Vec::len).sum::<usize>() / done.outputs.len();
        failures.extend(check_counters(
            &done.metrics,
            &tally,
            source.neighbour_records,
            written,
            outputs,
        ));
        failures
    };
    failures.extend(done.logged_problems(&name));
    if failures.is_empty() {
        Ok(done)
    } else {
        Err(done.describe(&name, &failures))
    }
}

/// keep-and-route: events and broken lines go to the first output (broken
/// ones re-emitted by `rewrite_tag` under `twingate.broken`, so the two
/// kinds interleave freely but each keeps its order), service lines to the
/// second; the counters add up across the re-emission.
fn check_routed(
    name: &str,
    done: &Done,
    wants: &[Want],
    filter: &Filter,
    tally: &Tally,
    neighbours: u64,
) -> Vec<String> {
    let mut failures = Vec::new();
    let [analytics, service] = done.outputs.as_slice() else {
        return vec![format!(
            "{name}: {} outputs, expected 2",
            done.outputs.len()
        )];
    };
    let of_kind =
        |kind| -> Vec<Want> { wants.iter().filter(|w| w.kind() == kind).cloned().collect() };
    let is_broken = |line: &String| line.contains("\"twingate.parse_error\"");
    let (broken, events): (Vec<String>, Vec<String>) =
        analytics.iter().cloned().partition(is_broken);
    failures.extend(compare(
        &format!("{name} events"),
        &events,
        &of_kind(Kind::Event),
        filter,
    ));
    failures.extend(compare(
        &format!("{name} broken"),
        &broken,
        &of_kind(Kind::Error),
        filter,
    ));
    failures.extend(compare(
        &format!("{name} service"),
        service,
        &of_kind(Kind::Kept),
        filter,
    ));
    let m = &done.metrics;
    let plugin = |section: &str, prefix: &str| -> String {
        m.plugins(section)
            .into_iter()
            .find(|p| p.starts_with(prefix))
            .unwrap_or(prefix)
            .to_owned()
    };
    let (wasm, rewrite) = (plugin("filter", "wasm."), plugin("filter", "rewrite_tag."));
    let emitter = plugin("input", "twingate_router");
    let rerouted = tally.errors + tally.kept;
    let mut expect = |what: &str, got: u64, want: u64| {
        if got != want {
            failures.push(format!(
                "{name}: counter {what}: {got}, expected {want} ({m})"
            ));
        }
    };
    expect(
        "tail.0 records",
        m.get("input", "tail.0", "records"),
        tally.records() + neighbours,
    );
    expect(
        "grep.0 drop_records",
        m.get("filter", "grep.0", "drop_records"),
        neighbours,
    );
    expect(
        &format!("{wasm} records = events + dropped + errors + kept"),
        m.get("filter", &wasm, "records"),
        tally.records(),
    );
    expect(
        &format!("{wasm} drop_records"),
        m.get("filter", &wasm, "drop_records"),
        0,
    );
    expect(
        &format!("{rewrite} drop_records"),
        m.get("filter", &rewrite, "drop_records"),
        rerouted,
    );
    expect(
        &format!("{emitter} records (re-emitted)"),
        m.get("input", &emitter, "records"),
        rerouted,
    );
    expect(
        "file.0 proc_records",
        m.get("output", "file.0", "proc_records"),
        tally.events + tally.errors,
    );
    expect(
        "file.1 proc_records",
        m.get("output", "file.1", "proc_records"),
        tally.kept,
    );
    failures
}

/// An output's records, broken lines after the others, each kind in its
/// order.
fn by_kind(lines: &[String]) -> Vec<&String> {
    let is_broken = |line: &&String| line.contains("\"twingate.parse_error\"");
    let (broken, others): (Vec<&String>, Vec<&String>) = lines.iter().partition(is_broken);
    others.into_iter().chain(broken).collect()
}

/// The test of one example: the module under test, then (when `flb-wamrc`
/// is at hand) the AOT module, which must write the same bytes.
pub fn test(suite: &Suite, example: &Example) -> TestResult {
    if matches!(example.shape, Shape::Journal) {
        suite.need_journal_remote()?;
    }
    let done = run_example(suite, example, &suite.module, "wasm").map_err(Verdict::fail)?;
    // Without flb-wamrc the AOT half is left out here; the `aot` test says
    // so, once.
    let Ok(aot) = suite.aot() else {
        suite.clean(&done.root);
        return Ok(());
    };
    let aot_done = run_example(suite, example, aot, "aot").map_err(Verdict::fail)?;
    for (i, (wasm, aot)) in done.outputs.iter().zip(&aot_done.outputs).enumerate() {
        // rewrite_tag re-emits broken lines through its own input, so how
        // they interleave with the events varies from run to run; each kind
        // keeps its order.
        let (wasm, aot) = (by_kind(wasm), by_kind(aot));
        if wasm != aot {
            let first = wasm.iter().zip(&aot).position(|(a, b)| a != b);
            return Err(Verdict::fail(format!(
                "{}: output {i} differs between the .wasm and the .aot module ({} and {} records; first difference at record {first:?})",
                example.name,
                wasm.len(),
                aot.len()
            )));
        }
    }
    suite.clean(&done.root);
    suite.clean(&aot_done.root);
    Ok(())
}
