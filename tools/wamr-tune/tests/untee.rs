//! A tuned module computes what the original computes: a small module
//! checked instruction by instruction, and this project's Fluent Bit module
//! over every record of the shared corpus in every entry point, byte for
//! byte, in the twin host.

#[path = "../../../tests/support/mod.rs"]
mod support;

use twingate_cli::host::{EventTime, FluentBitHost, HostOptions};

/// `(func (export "f") (param i32) (result i32) (local i32)
///    local.get 0  local.tee 1  drop  (outside a loop: kept)
///    loop (result i32)
///      local.get 0  i32.const 7  i32.add  local.tee 1  local.get 1  i32.mul
///    end)`
/// with a block, a load (memory) and a `memory.copy` around it, so that
/// immediates of several kinds are read.
fn small_module() -> Vec<u8> {
    let body: &[u8] = &[
        0x01, 0x01, 0x7f, // one i32 local
        0x02, 0x40, // block
        0x41, 0x10, 0x41, 0x00, 0x41, 0x04, 0xfc, 0x0a, 0x00,
        0x00, // memory.copy 16 <- 0, 4 bytes
        0x0b, // end
        0x20, 0x00, 0x22, 0x01, 0x1a, // local.get 0, local.tee 1, drop
        0x03, 0x7f, // loop (result i32)
        0x20, 0x00, 0x41, 0x07, 0x6a, // local.get 0, i32.const 7, i32.add
        0x22, 0x01, // local.tee 1
        0x20, 0x01, 0x6c, // local.get 1, i32.mul
        0x41, 0x00, 0x28, 0x02, 0x00, 0x6a, // + i32.load (offset 0)
        0x0b, // end of the loop
        0x0b, // end
    ];
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend_from_slice(&[0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f]); // type
    module.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // function
    module.extend_from_slice(&[0x05, 0x03, 0x01, 0x00, 0x01]); // memory
    module.extend_from_slice(&[0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00]); // export
    let mut code = vec![0x01, body.len() as u8];
    code.extend_from_slice(body);
    module.push(0x0a);
    module.push(code.len() as u8);
    module.extend_from_slice(&code);
    module
}

fn run(module: &[u8], x: i32) -> i32 {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, module).expect("a valid module");
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiates");
    let f = instance
        .get_typed_func::<i32, i32>(&mut store, "f")
        .expect("f(i32) -> i32");
    f.call(&mut store, x).expect("runs")
}

#[test]
fn a_tee_becomes_a_set_and_a_get_and_nothing_else_changes() {
    let module = small_module();
    // Loops only (as for a function above the small-function bound).
    let (tuned, stats) = wamr_tune::untee_with(&module, 0).expect("rewrites");
    assert_eq!(stats.tees, 1);
    assert_eq!(stats.functions, 1);
    assert_eq!(tuned.len(), module.len() + 2);
    let outside = module
        .windows(2)
        .position(|w| w == [0x22, 0x01])
        .expect("a tee");
    assert_eq!(
        &tuned[outside..outside + 2],
        &[0x22, 0x01],
        "kept outside the loop"
    );
    let inside = outside
        + 2
        + module[outside + 2..]
            .windows(2)
            .position(|w| w == [0x22, 0x01])
            .expect("a second tee");
    assert_eq!(&tuned[inside..inside + 4], &[0x21, 0x01, 0x20, 0x01]);
    for x in [0, 1, -8, 1000] {
        assert_eq!(run(&tuned, x), run(&module, x), "f({x})");
    }
    // Idempotent.
    assert_eq!(wamr_tune::untee_with(&tuned, 0).expect("rewrites").0, tuned);
}

#[test]
fn a_small_function_has_every_tee_rewritten() {
    let module = small_module();
    let (tuned, stats) = wamr_tune::untee(&module).expect("rewrites");
    assert!(module.len() < wamr_tune::SMALL_FUNCTION);
    assert_eq!(stats.tees, 2);
    assert_eq!(tuned.len(), module.len() + 4);
    assert!(
        !tuned.windows(2).any(|w| w == [0x22, 0x01]),
        "no tee left outside the loop either"
    );
    for x in [0, 1, -8, 1000] {
        assert_eq!(run(&tuned, x), run(&module, x), "f({x})");
    }
    assert_eq!(wamr_tune::untee(&tuned).expect("rewrites").0, tuned);
}

#[test]
fn what_it_cannot_read_it_refuses() {
    assert!(wamr_tune::untee(b"not wasm").is_err());
    let mut simd = small_module();
    let at = simd.iter().position(|&b| b == 0x6c).expect("i32.mul");
    simd[at] = 0xfd; // a SIMD prefix
    let error = wamr_tune::untee(&simd).expect_err("refused");
    assert!(error.what.contains("0xfd"), "{error}");
    let mut cut = small_module();
    cut.truncate(cut.len() - 3);
    assert!(wamr_tune::untee(&cut).is_err());
}

#[test]
fn the_fluent_bit_module_gives_the_same_records_tuned() {
    let path =
        support::repo_root().join("target/wasm32-unknown-unknown/release/twingate_analytics.wasm");
    let module = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build it with `cargo build --release -p twingate-analytics --target wasm32-unknown-unknown`",
            path.display()
        )
    });
    // The module may already be tuned (.ci/test tunes it): every tee left
    // (those outside loops in large functions) is rewritten, so that the
    // comparison runs two different programs either way.
    let (tuned, stats) = wamr_tune::untee_with(&module, usize::MAX).expect("rewrites");
    assert!(
        stats.tees > 0,
        "a module without a tee left: nothing compared"
    );
    let cases = support::all_cases();
    for function in [
        "twingate_flatten",
        "twingate_flatten_keep",
        "twingate_ecs",
        "twingate_ocsf_keep",
    ] {
        let options = HostOptions {
            function: function.to_owned(),
            heap_size: 4 << 20,
            ..HostOptions::default()
        };
        let mut original = FluentBitHost::from_bytes(&module, "original", &options).expect("loads");
        let mut rewritten = FluentBitHost::from_bytes(&tuned, "tuned", &options).expect("loads");
        for case in &cases {
            let record = case.record.as_bytes();
            let a = original.call(b"twingate.connector", EventTime::default(), record);
            let b = rewritten.call(b"twingate.connector", EventTime::default(), record);
            assert_eq!(
                (format!("{a:?}"), original.output()),
                (format!("{b:?}"), rewritten.output()),
                "{function}: {} line {}",
                case.shape,
                case.line_no
            );
        }
    }
}
