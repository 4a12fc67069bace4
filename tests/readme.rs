//! The README's two commands are the ones CI runs, word for word.

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
fn ci_runs_the_readme_test_command_and_main_command() {
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
    assert!(
        ci.lines().any(|l| l.starts_with(&main)),
        ".ci/run runs the README's main command: {main}"
    );
}
