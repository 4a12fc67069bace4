//! Arbitrary bytes as a record's JSON text (`transform_record`, what the
//! Fluent Bit module gets): every invariant, and the in-place fast path
//! equal to the reference path byte for byte.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use twingate_analytics::Transformer;
use twingate_analytics_fuzz::{Input, check_core};

thread_local! {
    static STATE: RefCell<(Transformer, Transformer)> =
        const { RefCell::new((Transformer::new(), Transformer::new())) };
}

fuzz_target!(|record: &[u8]| {
    STATE.with_borrow_mut(|(fast, reference)| check_core(fast, reference, Input::Record(record)));
});
