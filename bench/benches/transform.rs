//! `cargo bench -p twingate-bench`: the core, the naive baseline and VRL on
//! one Docker analytics record and one service record, and the core over the
//! whole shared corpus in Docker shape. Every bench checks its answer once
//! before it is timed (the same answer the timed closure computes).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::OnceLock;

use divan::Bencher;
use serde_json::{Map, Value, json};
use support::{Answer, Case};
use twingate_analytics::{Options, Outcome, Transformer};
use twingate_naive::Naive;
use twingate_vector::Remap;

fn main() {
    divan::main();
}

/// The README's example: a Docker json-file record with a v2 event.
const EVENT: &str = r#"{"log":"ANALYTICS {\"connection\":{\"client_ip\":\"100.105.10.104\",\"id\":\"baf1c9ce-7766366f-8-10a1d10-09fe3d8c-f21a\",\"protocol\":\"tcp\",\"resource_ip\":\"10.101.218.171\",\"resource_port\":443,\"rx\":0,\"tx\":119213,\"tunnel_path\":\"relayed\",\"tunnel_proto\":\"tcp\"},\"remote_network\":{\"id\":\"22826\",\"name\":\"edge\\/eu-west-1\"},\"device\":{\"id\":\"7EFEC597-AADC-CC73-5CC0-A42C2F4203DB\"},\"resource\":{\"address\":\"db-01.prod.svc.cluster.local\",\"applied_rule\":\"*.website.com\",\"id\":\"7157011\"},\"event_type\":\"established_connection\",\"user\":{\"email\":\"chen@twingate.com\",\"id\":\"511934\"},\"location\":\"{\\\"geoip\\\":{\\\"city\\\":\\\"Seattle\\\",\\\"country\\\":\\\"US\\\",\\\"lat\\\":47.6062,\\\"lon\\\":-122.3321,\\\"region\\\":\\\"WA\\\"}}\",\"timestamp\":1694779438523,\"relays\":[{\"ip\":\"216.103.61.33\",\"name\":\"relaybalancer+https:\\/\\/relays.twingate.com\",\"port\":30012}],\"connector\":{\"id\":\"113468\",\"name\":\"quiet-otter\"}}\n","stream":"stdout","time":"2026-11-24T12:00:00.111000000Z"}"#;

/// A service line in the same shape: dropped.
const SERVICE: &str = r#"{"log":"[INFO] [connector] State: Online\n","stream":"stdout","time":"2026-11-24T12:00:00.111000000Z"}"#;

/// The flat record the README shows for [`EVENT`].
fn expected_event() -> Value {
    json!({
        "stream": "stdout", "time": "2026-11-24T12:00:00.111000000Z",
        "connection.client_ip": "100.105.10.104",
        "connection.id": "baf1c9ce-7766366f-8-10a1d10-09fe3d8c-f21a",
        "connection.protocol": "tcp", "connection.resource_ip": "10.101.218.171",
        "connection.resource_port": 443, "connection.rx": 0, "connection.tx": 119213,
        "connection.tunnel_path": "relayed", "connection.tunnel_proto": "tcp",
        "remote_network.id": "22826", "remote_network.name": "edge/eu-west-1",
        "device.id": "7EFEC597-AADC-CC73-5CC0-A42C2F4203DB",
        "resource.address": "db-01.prod.svc.cluster.local",
        "resource.applied_rule": "*.website.com", "resource.id": "7157011",
        "event_type": "established_connection",
        "user.email": "chen@twingate.com", "user.id": "511934",
        "location.geoip.city": "Seattle", "location.geoip.country": "US",
        "location.geoip.lat": 47.6062, "location.geoip.lon": -122.3321,
        "location.geoip.region": "WA",
        "timestamp": 1694779438523_u64,
        "relays": [{"ip": "216.103.61.33", "name": "relaybalancer+https://relays.twingate.com", "port": 30012}],
        "connector.id": "113468", "connector.name": "quiet-otter"
    })
}

fn assert_event(who: &str, text: &str) {
    let got: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{who}: {e}: {text}"));
    assert!(
        support::json_eq(&got, &expected_event()),
        "{who}: wrong event: {text}"
    );
}

fn ours(t: &mut Transformer, record: &str) -> Outcome {
    t.transform_record(black_box(record.as_bytes()), Options::flatten())
}

#[divan::bench]
fn ours_event(bencher: Bencher) {
    let mut t = Transformer::new();
    assert_eq!(ours(&mut t, EVENT), Outcome::Event);
    assert_event("ours", &String::from_utf8_lossy(t.output()));
    bencher
        .counter(divan::counter::BytesCount::new(EVENT.len()))
        .bench_local(|| ours(&mut t, EVENT));
}

#[divan::bench]
fn ours_drop(bencher: Bencher) {
    let mut t = Transformer::new();
    assert_eq!(ours(&mut t, SERVICE), Outcome::Dropped);
    bencher.bench_local(|| ours(&mut t, SERVICE));
}

#[divan::bench]
fn naive_event(bencher: Bencher) {
    match twingate_naive::transform(EVENT.as_bytes()) {
        Naive::Event(text) => assert_event("naive", &text),
        other => panic!("naive: {other:?}"),
    }
    bencher
        .counter(divan::counter::BytesCount::new(EVENT.len()))
        .bench(|| twingate_naive::transform(black_box(EVENT.as_bytes())));
}

#[divan::bench]
fn naive_drop(bencher: Bencher) {
    assert_eq!(
        twingate_naive::transform(SERVICE.as_bytes()),
        Naive::Dropped
    );
    bencher.bench(|| twingate_naive::transform(black_box(SERVICE.as_bytes())));
}

fn remap() -> &'static Remap {
    static REMAP: OnceLock<Remap> = OnceLock::new();
    REMAP.get_or_init(|| {
        Remap::from_config_file(
            &support::repo_root().join("vector.toml"),
            "twingate_analytics",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// VRL as Vector's docker_logs source feeds it: the line under `message`.
fn vrl(record: &str) -> twingate_vector::Outcome {
    let map: Map<String, Value> = serde_json::from_str(record).expect("record");
    let event: Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| {
            if k == "log" {
                ("message".into(), v)
            } else {
                (k, v)
            }
        })
        .collect();
    remap().run(&event)
}

#[divan::bench]
fn vrl_event(bencher: Bencher) {
    match vrl(EVENT) {
        twingate_vector::Outcome::Event(text) => {
            // The payload's `timestamp` is Vector's event time: back to
            // epoch milliseconds for the contract's event.
            let mut event: Map<String, Value> = serde_json::from_str(&text).expect("object");
            twingate_vector::contract_form(&mut event);
            assert_event("vrl", &Value::Object(event).to_string());
        }
        other => panic!("vrl: {other:?}"),
    }
    bencher
        .counter(divan::counter::BytesCount::new(EVENT.len()))
        .bench(|| vrl(black_box(EVENT)));
}

#[divan::bench]
fn vrl_drop(bencher: Bencher) {
    assert_eq!(vrl(SERVICE), twingate_vector::Outcome::Aborted);
    bencher.bench(|| vrl(black_box(SERVICE)));
}

/// The whole shared corpus (2,000 lines, hostile ones included) in Docker
/// shape, checked against the contract first.
#[divan::bench(sample_count = 20)]
fn ours_corpus_docker(bencher: Bencher) {
    let cases: Vec<Case> = support::all_cases()
        .into_iter()
        .filter(|c| c.shape == "docker")
        .collect();
    let bytes: usize = cases.iter().map(|c| c.record.len()).sum();
    let mut t = Transformer::new();
    support::assert_conforms("ours, docker corpus", false, &cases, |case| {
        let outcome = ours(&mut t, &case.record);
        let text = String::from_utf8_lossy(t.output()).into_owned();
        match outcome {
            Outcome::Event => Answer::Event(text),
            Outcome::Dropped => Answer::Dropped,
            Outcome::Kept => Answer::Kept(text),
            Outcome::Error(_) => Answer::Error(text),
        }
    });
    bencher
        .counter(divan::counter::BytesCount::new(bytes))
        .bench_local(|| {
            cases
                .iter()
                .map(|case| ours(&mut t, &case.record) == Outcome::Event)
                .filter(|&event| event)
                .count()
        });
}
