//! The `ecs` and `ocsf` profiles through the core: the same outcome as
//! `flatten` for every corpus record, nothing lost, and golden events.
//! (Schema validation runs in .ci/test: js/test/ecs.test.mjs against
//! `@elastic/ecs`, tests/validate/ocsf.py against the OCSF 1.8.0 schema.)

mod oracle;
mod support;

use serde_json::{Map, Value};
use support::{Case, all_cases, repo_root, top_level_keys};
use twingate_analytics::{
    ARRAY_MAX_DEPTH, OUTPUT_MAX_DEPTH, Options, Outcome, PATH_MAX_SEGMENTS, Profile, Transformer,
};

const PROFILES: [Profile; 2] = [Profile::Ecs, Profile::Ocsf];

/// The outcome's kind and output text.
fn run(t: &mut Transformer, case: &Case, options: Options, line: bool) -> (&'static str, String) {
    let outcome = match (&case.line, line) {
        (Some(text), true) => t.transform_line(text.as_bytes(), options),
        _ => t.transform_record(case.record.as_bytes(), options),
    };
    let kind = match outcome {
        Outcome::Event => "event",
        Outcome::Dropped => "dropped",
        Outcome::Kept => "kept",
        Outcome::Error(_) => "error",
    };
    (kind, String::from_utf8(t.output().to_vec()).unwrap())
}

#[test]
fn every_record_has_the_same_outcome_in_every_profile() {
    let cases = all_cases();
    let mut flatten = Transformer::new();
    let mut profiled = Transformer::new();
    let mut events = 0;
    for case in &cases {
        for keep in [false, true] {
            for line in [false, true] {
                let with = |p| {
                    let o = Options::profile(p);
                    if keep { o.keep() } else { o }
                };
                let (want, flat) = run(&mut flatten, case, with(Profile::Flatten), line);
                for profile in PROFILES {
                    let at = format!(
                        "{} line {} {profile:?} keep={keep} line={line}",
                        case.shape, case.line_no
                    );
                    let (got, text) = run(&mut profiled, case, with(profile), line);
                    assert_eq!(got, want, "{at}");
                    match got {
                        // Error records and kept records are the same in every profile.
                        "error" | "kept" | "dropped" => assert_eq!(text, flat, "{at}"),
                        _ => {
                            events += 1;
                            check_event(&text, &flat, profile, &at);
                        }
                    }
                }
            }
        }
    }
    assert!(events > 10_000, "{events}");
}

/// Fluent Bit drops a record nested 64 levels or more with the rest of its
/// chunk: no profile's event comes near it, however deep the payload (up to
/// the contract's 64 levels), and every value is still there, as text below
/// the bound.
#[test]
fn no_profile_nests_an_event_deeper_than_the_bound() {
    let objects =
        |levels: usize, inner: &str| "{\"a\":".repeat(levels - 1) + inner + &"}".repeat(levels - 1);
    let arrays = |levels: usize| "[".repeat(levels) + "7" + &"]".repeat(levels);
    let payloads = [
        objects(64, "{}"),
        objects(64, "{\"z\":1}"),
        objects(2, &arrays(62)),
        objects(20, &arrays(44)),
        objects(40, &format!("{{\"r\":{}}}", arrays(20))),
        format!(
            "{{\"location\":{}}}",
            serde_json::to_string(&objects(63, "{\"g\":1}")).unwrap()
        ),
    ];
    let mut t = Transformer::new();
    for payload in &payloads {
        let line = format!("ANALYTICS {payload}");
        let record =
            serde_json::json!({"log": format!("{line}\n"), "stream": "stdout"}).to_string();
        for (profile, bound) in [
            (Profile::Flatten, 1 + ARRAY_MAX_DEPTH),
            (Profile::Ecs, OUTPUT_MAX_DEPTH),
            (Profile::Ocsf, OUTPUT_MAX_DEPTH),
        ] {
            for outcome in [
                t.transform_record(record.as_bytes(), Options::profile(profile)),
                t.transform_line(line.as_bytes(), Options::profile(profile)),
            ] {
                assert_eq!(outcome, Outcome::Event, "{profile:?} {payload}");
                let depth = oracle::bracket_depth(t.output());
                assert!(depth <= bound, "{profile:?}: {depth} levels for {payload}");
                // The innermost value survives: as JSON, or inside text.
                let text = String::from_utf8_lossy(t.output());
                assert!(
                    text.contains('7') || text.contains(":{}") || text.contains(":1"),
                    "{text}"
                );
            }
        }
    }
    // A record field as deep as Fluent Bit hands over (62 levels under the
    // record, 63 in all): ECS leaves it where it is, OCSF moves it one level
    // down (`unmapped`), where the parts deeper than the bound become text.
    let record = format!(
        r#"{{"log":"ANALYTICS {{}}","deep":{}}}"#,
        "[".repeat(62) + &"]".repeat(62)
    );
    for (profile, depth) in [(Profile::Ecs, 63), (Profile::Ocsf, OUTPUT_MAX_DEPTH)] {
        t.transform_record(record.as_bytes(), Options::profile(profile));
        assert_eq!(oracle::bracket_depth(t.output()), depth, "{profile:?}");
    }
    // The paths the profiles nest: at most PATH_MAX_SEGMENTS objects under
    // the record, the rest one dotted key.
    let line = format!("ANALYTICS {}", objects(64, "{\"z\":1}"));
    t.transform_line(line.as_bytes(), Options::profile(Profile::Ecs));
    let event: Value = serde_json::from_slice(t.output()).unwrap();
    let mut node = &event["twingate"];
    for _ in 1..PATH_MAX_SEGMENTS - 1 {
        node = &node["a"];
    }
    let rest = vec!["a"; 63 - (PATH_MAX_SEGMENTS - 2)].join(".") + ".z";
    assert_eq!(node[&rest], 1, "{event}");
}

/// An event: a JSON object without a key twice at the top, whose record
/// fields are those of the `flatten` event (a profile's own top-level name
/// replaces a record field of the same name, as a payload key does in
/// `flatten`), and which loses no payload value.
fn check_event(text: &str, flat: &str, profile: Profile, at: &str) {
    let keys = top_level_keys(text).unwrap_or_else(|e| panic!("{at}: {e}: {text}"));
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "{at}: a key twice: {text}");
    let event: Map<String, Value> = serde_json::from_str(text).unwrap();
    let flat: Map<String, Value> = serde_json::from_str(flat).unwrap();
    let leaves = leaves(&event);
    let catch_all = match profile {
        Profile::Ecs => "twingate.",
        _ => "unmapped.",
    };
    for (key, value) in &flat {
        if let Some(got) = event.get(key)
            && got == value
        {
            continue; // a record field, kept at the top
        }
        // Under the catch-all at its own key (`twingate.trailing` stays
        // itself in ECS), or mapped to a schema field.
        let found = leaves.iter().any(|(path, v)| {
            v == value
                && (path == key
                    || *path == format!("{catch_all}{key}")
                    || !path.starts_with(catch_all))
        }) || converted(profile, key, value, &leaves);
        assert!(found, "{at}: {key} = {value} lost: {text}");
    }
}

/// The values a profile writes converted: the timestamp, the duration, the
/// AS number.
fn converted(profile: Profile, key: &str, value: &Value, leaves: &[(String, Value)]) -> bool {
    let has = |path: &str| leaves.iter().any(|(p, _)| p == path);
    let get = |path: &str| {
        leaves
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
    };
    match (profile, key) {
        (Profile::Ecs, "timestamp") => has("@timestamp"),
        (Profile::Ecs, "connection.duration") => {
            get("event.duration").and_then(|v| v.as_u64())
                == value.as_u64().map(|ms| ms * 1_000_000)
        }
        (Profile::Ecs, "connection.client_geo.as.number") => has("source.as.number"),
        (Profile::Ocsf, "connection.client_geo.as.number") => {
            has("src_endpoint.autonomous_system.number")
        }
        _ => false,
    }
}

/// Every leaf of a nested object: (dotted path, value); arrays are leaves.
fn leaves(object: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, &Map<String, Value>)> = vec![(String::new(), object)];
    while let Some((prefix, map)) = stack.pop() {
        for (key, value) in map {
            let path = format!("{prefix}{key}");
            match value {
                Value::Object(inner) if !inner.is_empty() => {
                    stack.push((format!("{path}."), inner))
                }
                _ => out.push((path, value.clone())),
            }
        }
    }
    out
}

/// Golden events: `tests/golden/profiles/NAME.line` through each profile
/// must give `NAME.ecs.json` / `NAME.ocsf.json` exactly (and `flatten`
/// the same outcome). `TWINGATE_BLESS=1` rewrites them; review the diff.
#[test]
fn golden_events() {
    let dir = repo_root().join("tests/golden/profiles");
    let bless = std::env::var_os("TWINGATE_BLESS").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".line")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "edge_cases",
            "failure",
            "spec_example",
            "v1_client_geo",
            "v2_closed_location"
        ]
    );
    let mut t = Transformer::new();
    let mut stale = Vec::new();
    for name in &names {
        let line = std::fs::read_to_string(dir.join(format!("{name}.line"))).unwrap();
        for (profile, suffix) in [(Profile::Ecs, "ecs"), (Profile::Ocsf, "ocsf")] {
            let outcome = t.transform_line(line.as_bytes(), Options::profile(profile));
            assert_eq!(outcome, Outcome::Event, "{name} {suffix}");
            let value: Value = serde_json::from_slice(t.output()).unwrap();
            let got = serde_json::to_string_pretty(&value).unwrap() + "\n";
            // Pretty-printing sorts keys; the exact text is checked too.
            let path = dir.join(format!("{name}.{suffix}.json"));
            let exact = dir.join(format!("{name}.{suffix}.ndjson"));
            let got_exact = format!("{}\n", String::from_utf8_lossy(t.output()));
            if bless {
                std::fs::write(&path, &got).unwrap();
                std::fs::write(&exact, &got_exact).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            let want_exact = std::fs::read_to_string(&exact).unwrap_or_default();
            if want != got || want_exact != got_exact {
                stale.push(format!("{}:\n{got}", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (TWINGATE_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_spec_example_maps_as_documented() {
    let line = std::fs::read_to_string(repo_root().join("tests/golden/profiles/spec_example.line"))
        .unwrap();
    let mut t = Transformer::new();
    assert_eq!(
        t.transform_line(line.as_bytes(), Options::profile(Profile::Ecs)),
        Outcome::Event
    );
    let ecs: Value = serde_json::from_slice(t.output()).unwrap();
    assert_eq!(ecs["@timestamp"], "2021-06-10T01:29:45.643Z");
    assert_eq!(
        ecs["event"]["type"],
        serde_json::json!(["connection", "start"])
    );
    assert_eq!(ecs["source"]["ip"], "124.214.168.162");
    assert_eq!(ecs["destination"]["domain"], "host.autoco.internal");
    assert_eq!(ecs["destination"]["port"], 80);
    assert_eq!(ecs["observer"]["name"], "AWS-instance-1208");
    assert_eq!(ecs["rule"]["name"], "192.168.5.0/24");
    assert_eq!(
        ecs["twingate"]["relays"][0]["name"],
        "relaybalancer+https://relays.twingate.com"
    );
    assert_eq!(
        t.transform_line(line.as_bytes(), Options::profile(Profile::Ocsf)),
        Outcome::Event
    );
    let ocsf: Value = serde_json::from_slice(t.output()).unwrap();
    assert_eq!(ocsf["time"], 1_623_288_585_643u64);
    assert_eq!(
        (ocsf["activity_id"].clone(), ocsf["type_uid"].clone()),
        (1.into(), 400_101.into())
    );
    assert_eq!(ocsf["dst_endpoint"]["hostname"], "host.autoco.internal");
    assert_eq!(ocsf["connection_info"]["protocol_num"], 6);
    assert_eq!(ocsf["actor"]["user"]["uid"], "1455");
}

#[test]
fn a_failure_is_a_failure_in_both_schemas() {
    let line = r#"ANALYTICS {"event_type":"closed_connection","connection":{"error_message":"connection refused"}}"#;
    let mut t = Transformer::new();
    t.transform_line(line.as_bytes(), Options::profile(Profile::Ecs));
    let ecs: Value = serde_json::from_slice(t.output()).unwrap();
    assert_eq!(ecs["event"]["outcome"], "failure");
    assert_eq!(ecs["error"]["message"], "connection refused");
    t.transform_line(line.as_bytes(), Options::profile(Profile::Ocsf));
    let ocsf: Value = serde_json::from_slice(t.output()).unwrap();
    assert_eq!(
        (ocsf["activity_id"].clone(), ocsf["status_id"].clone()),
        (4.into(), 2.into())
    );
    assert_eq!(ocsf["status_detail"], "connection refused");
}

#[test]
fn values_that_do_not_fit_stay_under_the_catch_all() {
    let line = r#"ANALYTICS {"timestamp":-1,"connection":{"duration":18446744073709551615,"rx":1.5,"resource_port":65536,"client_ip":"999.1.1.1"}}"#;
    let mut t = Transformer::new();
    t.transform_line(line.as_bytes(), Options::profile(Profile::Ecs));
    let ecs: Value = serde_json::from_slice(t.output()).unwrap();
    assert_eq!(ecs.get("@timestamp"), None);
    assert_eq!(ecs["twingate"]["timestamp"], -1);
    assert_eq!(
        ecs["twingate"]["connection"]["duration"],
        18_446_744_073_709_551_615u64
    );
    assert_eq!(ecs["twingate"]["connection"]["rx"], 1.5);
    assert_eq!(ecs["twingate"]["connection"]["resource_port"], 65_536);
    assert_eq!(ecs["source"]["address"], "999.1.1.1");
    assert_eq!(ecs["source"].get("ip"), None);
    t.transform_line(line.as_bytes(), Options::profile(Profile::Ocsf));
    let ocsf: Value = serde_json::from_slice(t.output()).unwrap();
    assert_eq!(ocsf["time"], 0);
    assert_eq!(ocsf["unmapped"]["timestamp"], -1);
    assert_eq!(ocsf["unmapped"]["connection"]["client_ip"], "999.1.1.1");
    assert_eq!(ocsf["src_endpoint"]["name"], "unknown");
}

#[test]
fn record_fields_stay_first_in_ecs_and_go_to_unmapped_in_ocsf() {
    let record = r#"{"time":"2024-01-01T00:00:00Z","stream":"stdout","log":"ANALYTICS {\"event_type\":\"x\"}\n"}"#;
    let mut t = Transformer::new();
    t.transform_record(record.as_bytes(), Options::profile(Profile::Ecs));
    let text = String::from_utf8(t.output().to_vec()).unwrap();
    let keys = top_level_keys(&text).unwrap();
    assert_eq!(keys[..2], ["time", "stream"], "{text}");
    // OCSF classes are closed: every collector field moves to `unmapped`
    // (the record's `time` would also clash with the class's own).
    t.transform_record(record.as_bytes(), Options::profile(Profile::Ocsf));
    let text = String::from_utf8(t.output().to_vec()).unwrap();
    let keys = top_level_keys(&text).unwrap();
    assert!(!keys.iter().any(|k| k == "stream"), "{text}");
    assert_eq!(keys.iter().filter(|k| *k == "time").count(), 1);
    let ocsf: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ocsf["time"], 0);
    assert_eq!(ocsf["unmapped"]["time"], "2024-01-01T00:00:00Z");
    assert_eq!(ocsf["unmapped"]["stream"], "stdout");
}
