//! `wamr-tune MODULE [OUT]`: rewrites the module for WAMR's fast
//! interpreter (see the library's documentation), in place unless OUT is
//! given. Running it again changes nothing.
//!
//! ```text
//! cargo build --release -p twingate-analytics --target wasm32-unknown-unknown
//! cargo run --release -p wamr-tune -- target/wasm32-unknown-unknown/release/twingate_analytics.wasm
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output) = match args.as_slice() {
        [input] => (input, input),
        [input, output] => (input, output),
        _ => {
            eprintln!("usage: wamr-tune MODULE.wasm [OUT.wasm]  (in place without OUT)");
            return ExitCode::from(2);
        }
    };
    let module = match std::fs::read(input) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("wamr-tune: {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (tuned, stats) = match wamr_tune::untee(&module) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("wamr-tune: {input}: {e}; the module was left as it is");
            return ExitCode::FAILURE;
        }
    };
    if (output != input || tuned != module)
        && let Err(e) = std::fs::write(output, &tuned)
    {
        eprintln!("wamr-tune: {output}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wamr-tune: {output}: {} local.tee rewritten in {} functions, {} -> {} bytes",
        stats.tees,
        stats.functions,
        module.len(),
        tuned.len()
    );
    ExitCode::SUCCESS
}
