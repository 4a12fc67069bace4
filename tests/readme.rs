//! The README and the pages of docs/ against what CI runs:
//!
//! - the README's two commands are the ones CI runs and checks: the test
//!   command word for word in `.ci/run`, the main command word for word by
//!   `tests/setup/fresh_rustup.sh` (on a rustup without the toolchain) and
//!   its output by `cli/tests/examples.rs`;
//! - every relative link of every Markdown page resolves, anchors included;
//! - a `cargo` command shown in the README or docs/ that builds, tests or
//!   lints what a CI script builds, tests or lints (same command, packages
//!   and target) is written exactly as that script runs it, and every script
//!   they name exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The command after the `# N.` comment line in the README's quick start.
fn readme_command(number: u32) -> String {
    let readme = read("README.md");
    let marker = format!("# {number}. ");
    let mut lines = readme.lines().skip_while(|l| !l.starts_with(&marker));
    assert!(lines.next().is_some(), "README has a `{marker}` command");
    lines
        .next()
        .expect("a command follows the comment")
        .to_owned()
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim() == line)
}

#[test]
fn ci_runs_the_readme_commands_and_tests_check_them() {
    let ci = read(".ci/run");
    let test = readme_command(2);
    let main = readme_command(1);

    assert_eq!(test, "bash .ci/test");
    assert!(
        has_line(&ci, &test),
        ".ci/run runs the README's test command"
    );
    let script = read(".ci/test");
    for step in [
        "setup_rust",
        "setup_tests",
        "cargo test --release --workspace",
        "(cd js && npm test)",
    ] {
        assert!(has_line(&script, step), ".ci/test runs `{step}`");
    }

    assert_eq!(main, "bash scripts/twingate.sh examples/logs");
    assert!(
        ci.lines()
            .any(|l| l.starts_with("bash tests/setup/fresh_rustup.sh "))
            && has_line(&ci, r#"if ! wait "$fresh_rustup"; then"#),
        ".ci/run runs the README's main command on a fresh rustup and fails when it fails"
    );
    let fresh = read("tests/setup/fresh_rustup.sh");
    assert!(
        fresh.contains("grep -A1 '^# 1\\. ' README.md") && fresh.contains("bash -c \"$command_1\""),
        "tests/setup/fresh_rustup.sh runs the README's `# 1.` command as written"
    );
    assert!(
        read("cli/tests/examples.rs").contains("\"# 1. \""),
        "cli/tests/examples.rs checks the output of the README's main command"
    );
}

/// Every Markdown page of the repository (not dependencies, build output or
/// generated fuzz data).
fn markdown_pages() -> Vec<PathBuf> {
    let skip_names = ["target", "node_modules", ".git"];
    let skip_paths = [
        "dist",
        "js/pkg",
        "js/component",
        "fuzz/corpus",
        "fuzz/artifacts",
        "docs-draft",
    ];
    let mut pages = Vec::new();
    let mut dirs = vec![root().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            let relative = path.strip_prefix(root()).expect("under the root");
            if skip_paths.iter().any(|s| relative == Path::new(s))
                || path
                    .file_name()
                    .is_some_and(|n| skip_names.iter().any(|s| n == *s))
            {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    pages
}

/// A page's lines outside fenced code blocks, with their line numbers.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .map(|(index, line)| (index + 1, line))
        .collect()
}

/// The targets of the inline links `[text](target)` of a line, outside
/// code spans.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'`' => in_code = !in_code,
            b']' if !in_code && bytes.get(i + 1) == Some(&b'(') => {
                if let Some(end) = line[i + 2..].find(')') {
                    targets.push(line[i + 2..i + 2 + end].to_owned());
                    i += 2 + end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    targets
}

/// The anchors GitHub gives a page's headings: lower case, punctuation
/// dropped, spaces to `-`, repeats numbered.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for heading in prose(text).into_iter().filter_map(|(_, l)| {
        let title = l.trim_start_matches('#');
        (l.starts_with('#') && title.starts_with(' ')).then_some(title.trim())
    }) {
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = slug.clone();
        let mut n = 0;
        while !seen.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{slug}-{n}");
        }
    }
    seen
}

#[test]
fn every_relative_link_of_every_page_resolves() {
    let pages = markdown_pages();
    for required in ["README.md", "docs/fluent-bit.md", "docs/deploy.md"] {
        assert!(
            pages.contains(&root().join(required)),
            "{required} is checked"
        );
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("readable page");
        let name = page
            .strip_prefix(root())
            .expect("under the root")
            .display()
            .to_string();
        for (number, line) in prose(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
                let path = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().expect("a directory").join(file)
                };
                let problem = if !path.exists() {
                    Some("no such file".to_owned())
                } else if !anchor.is_empty() {
                    let linked = std::fs::read_to_string(&path).unwrap_or_default();
                    (!anchors(&linked).contains(anchor))
                        .then(|| format!("no heading with the anchor #{anchor}"))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    broken.push(format!("{name}:{number}: ({target}): {problem}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The command lines of the scripts CI runs (comments and blanks left out).
fn ci_commands() -> Vec<String> {
    let mut scripts = vec![
        ".ci/run".to_owned(),
        ".ci/test".to_owned(),
        "js/build.sh".to_owned(),
        "tests/setup/fresh_rustup.sh".to_owned(),
    ];
    for entry in std::fs::read_dir(root().join("scripts")).expect("scripts/") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("UTF-8 name");
        scripts.push(format!("scripts/{name}"));
    }
    scripts
        .iter()
        .flat_map(|s| {
            read(s)
                .lines()
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// What a cargo command works on: its subcommand, packages and target
/// (`cargo build --release -p x --target t` -> "build -p x --target t").
fn cargo_key(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if words.first() != Some(&"cargo") {
        return None;
    }
    let subcommand = *words.get(1)?;
    let mut key = vec![subcommand.to_owned()];
    let mut packages = BTreeSet::new();
    let mut target = None;
    for pair in words.windows(2) {
        match pair[0] {
            "-p" | "--package" => {
                packages.insert(pair[1]);
            }
            "--target" => target = Some(pair[1]),
            _ => {}
        }
    }
    key.extend(packages.iter().map(|p| format!("-p {p}")));
    key.extend(target.map(|t| format!("--target {t}")));
    key.extend(
        words
            .contains(&"--workspace")
            .then(|| "--workspace".to_owned()),
    );
    Some(key.join(" "))
}

/// The commands a page shows: the lines of its shell code blocks and its
/// inline code spans (a span may wrap across lines of a paragraph), each
/// without a trailing `# comment`.
fn shown_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            fence = if fence.is_some() {
                None
            } else {
                Some(rest.trim().to_owned())
            };
            continue;
        }
        if fence
            .as_deref()
            .is_some_and(|lang| matches!(lang, "sh" | "bash" | "console"))
        {
            commands.push(line.split(" # ").next().unwrap_or("").trim().to_owned());
        }
    }
    let paragraphs: Vec<&str> = prose(text).into_iter().map(|(_, line)| line).collect();
    let paragraphs = paragraphs.join("\n");
    for paragraph in paragraphs.split("\n\n") {
        let joined = paragraph.replace('\n', " ");
        commands.extend(joined.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    commands.retain(|c| !c.is_empty());
    commands
}

#[test]
fn commands_shown_in_the_readme_and_docs_are_the_ones_ci_runs() {
    let ci = ci_commands();
    let mut pages = vec![root().join("README.md")];
    pages.extend(
        markdown_pages()
            .into_iter()
            .filter(|p| p.starts_with(root().join("docs"))),
    );
    let mut wrong = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let name = page
            .strip_prefix(root())
            .expect("under the root")
            .display()
            .to_string();
        let text = std::fs::read_to_string(page).expect("readable page");
        for command in shown_commands(&text) {
            if command.starts_with("rustup toolchain install")
                || command.starts_with("rustup target add")
            {
                wrong.push(format!("{name}: `{command}`: the scripts install the toolchain and targets (scripts/setup.sh)"));
            }
            if let Some(script) = command
                .strip_prefix("bash ")
                .and_then(|c| c.split_whitespace().next())
                && script.contains('/')
                && !root().join(script).is_file()
            {
                wrong.push(format!("{name}: `{command}`: there is no {script}"));
            }
            let Some(key) = cargo_key(&command) else {
                continue;
            };
            let same_work: Vec<&String> = ci
                .iter()
                .filter(|c| cargo_key(c).as_ref() == Some(&key))
                .collect();
            if same_work.is_empty() {
                continue;
            }
            checked += 1;
            if !same_work.contains(&&command) {
                wrong.push(format!(
                    "{name}: `{command}` differs from what CI runs: `{}`",
                    same_work[0]
                ));
            }
        }
    }
    assert!(
        checked >= 3,
        "the pages show the build commands CI runs ({checked} found)"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The version of the twingate-analytics crate, the one in dist/'s names.
fn version() -> String {
    read("Cargo.toml")
        .lines()
        .skip_while(|l| *l != "[package]")
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("a version in Cargo.toml's [package]")
        .to_owned()
}

#[test]
fn release_file_names_in_pages_and_examples_carry_the_current_version() {
    let version = version();
    let mut files = markdown_pages();
    let mut dirs = vec![root().join("examples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    let mut stale = Vec::new();
    let mut named = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for prefix in ["twingate-analytics-", "twingate-analytics-transform-"] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                    continue;
                }
                named += 1;
                if !rest.starts_with(&format!("{version}.")) {
                    let shown: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '`')
                        .collect();
                    stale.push(format!(
                        "{}: {prefix}{shown}",
                        file.strip_prefix(root()).expect("under the root").display()
                    ));
                }
            }
        }
    }
    assert!(
        named > 10,
        "the pages and examples name the release files ({named} found)"
    );
    assert!(
        stale.is_empty(),
        "release files named with another version than {version} (replace it):\n{}",
        stale.join("\n")
    );
}
