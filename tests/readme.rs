//! The README's test command is the one CI runs, word for word; its main
//! command is the one cli/tests/examples.rs runs and checks.

use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
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

#[test]
fn ci_runs_the_readme_test_command_and_a_test_checks_the_main_command() {
    let ci = read(".ci/run");
    let test = readme_command(2);
    let main = readme_command(1);
    assert!(test.starts_with("bash .ci/test"), "{test}");
    let script = read(".ci/test");
    assert!(
        script.contains("cargo test --release --workspace"),
        "{script}"
    );
    assert!(script.contains("npm test"), "{script}");
    assert!(
        main.starts_with("cargo ") && main.contains("examples/logs"),
        "{main}"
    );
    assert!(
        ci.lines().any(|l| l == test),
        ".ci/run runs the README's test command: {test}"
    );
    // The main command's output is checked by cli/tests/examples.rs.
    let examples_test = read("cli/tests/examples.rs");
    assert!(
        examples_test.contains("\"# 1. \"") && main.ends_with("-- examples/logs"),
        "cli/tests/examples.rs checks the README's main command: {main}"
    );
}
