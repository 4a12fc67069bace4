//! Elastic Common Schema 9.x (field definitions: the `@elastic/ecs` 9.4.0
//! package), as nested objects the way Elastic's shippers write them. The
//! table, with the reasons, is in docs/profiles.md.

use super::{Activity, Fields, Ip, Known, LONG_MAX, MAX_EPOCH_MS, Tree, push_rfc3339};

/// Every top-level name this profile may write.
pub(crate) const TOP_LEVEL: &[&[u8]] = &[
    b"@timestamp",
    b"destination",
    b"device",
    b"ecs",
    b"error",
    b"event",
    b"network",
    b"observer",
    b"related",
    b"rule",
    b"source",
    b"twingate",
    b"user",
];

/// Fields written as they are (JSON text).
const CONSTANTS: [(&[u8], &[u8]); 6] = [
    (b"ecs.version", br#""9.4.0""#),
    (b"event.kind", br#""event""#),
    (b"event.category", br#"["network"]"#),
    // The connector observed the connection, as a proxy between the client
    // and the resource.
    (b"observer.vendor", br#""Twingate""#),
    (b"observer.product", br#""Twingate Connector""#),
    (b"observer.type", br#""proxy""#),
];

/// Payload strings copied as they are.
const STRINGS: [(Known, &[u8]); 15] = [
    (Known::EventType, b"event.action"),
    (Known::ErrorMessage, b"error.message"),
    (Known::AppliedRule, b"rule.name"),
    (Known::Protocol, b"network.transport"),
    (Known::RemoteNetworkName, b"network.name"),
    (Known::UserId, b"user.id"),
    (Known::UserEmail, b"user.email"),
    // Twingate's own id of the client device.
    (Known::DeviceId, b"device.id"),
    (Known::ConnectorName, b"observer.name"),
    (Known::GeoCountryName, b"source.geo.country_name"),
    (Known::GeoContinentCode, b"source.geo.continent_code"),
    (Known::GeoContinentName, b"source.geo.continent_name"),
    (Known::GeoTimezone, b"source.geo.timezone"),
    (Known::LocRegion, b"source.geo.region_name"),
    (Known::AsName, b"source.as.organization.name"),
];

#[inline(never)]
pub(crate) fn map(f: &mut Fields<'_>, t: &mut Tree) {
    use Known::*;
    for (path, json) in CONSTANTS {
        t.json(path, json);
    }
    for (k, path) in STRINGS {
        f.string_to(k, t, path);
    }

    if let Some(ms) = f.uint(Timestamp, MAX_EPOCH_MS) {
        let value = t.leaf(b"@timestamp");
        value.push(b'"');
        push_rfc3339(value, ms);
        value.push(b'"');
        f.use_(Timestamp);
    }

    // The event.
    let activity = Activity::of(f);
    t.json(
        b"event.type",
        match activity {
            Activity::Open => br#"["connection","start"]"#,
            Activity::Close => br#"["connection","end"]"#,
            Activity::Fail | Activity::Other => br#"["connection"]"#,
        },
    );
    let outcome: &[u8] = match activity {
        Activity::Open | Activity::Close => b"success",
        Activity::Fail => b"failure",
        Activity::Other => b"unknown",
    };
    t.encoded(b"event.outcome", outcome);
    // Duration: believed to be milliseconds; ECS wants nanoseconds.
    if let Some(ms) = f.uint(Duration, LONG_MAX / 1_000_000) {
        t.uint(b"event.duration", ms * 1_000_000);
        f.use_(Duration);
    }

    // The client.
    if f.string_to(ClientIp, t, b"source.address")
        && let Some((ip, _)) = f.ip(ClientIp)
    {
        t.encoded(b"source.ip", ip);
    }
    geo(f, t);

    // The resource.
    let address = f.first_string(&[ResourceAddress, ResourceIp]);
    if let Some(k) = address
        && let Some(text) = f.string(k)
    {
        t.encoded(b"destination.address", text);
        if k == ResourceAddress {
            f.use_(ResourceAddress);
            if super::ip_literal(text).is_none() {
                t.encoded(b"destination.domain", text);
                related(t, b"related.hosts", text);
            }
        }
    }
    if let Some((ip, family)) = f.ip(ResourceIp) {
        t.encoded(b"destination.ip", ip);
        t.encoded(
            b"network.type",
            match family {
                Ip::V4 => b"ipv4",
                Ip::V6 => b"ipv6",
            },
        );
        f.use_(ResourceIp);
    }
    f.uint_to(ResourcePort, 65_535, t, b"destination.port");

    // The connection. rx/tx: believed counted at the client (rx received
    // from the resource, tx sent to it); Twingate does not document it.
    let tx = f.uint_to(Tx, LONG_MAX, t, b"source.bytes");
    let rx = f.uint_to(Rx, LONG_MAX, t, b"destination.bytes");
    if let (Some(rx), Some(tx)) = (rx, tx)
        && let Some(sum) = rx.checked_add(tx).filter(|&s| s <= LONG_MAX)
    {
        t.uint(b"network.bytes", sum);
    }

    // Who.
    related_users(f, t);
    related_ips(f, t);
}

/// `source.geo.*` and `source.as.*` from v1 `client_geo` or v2 `location`.
fn geo(f: &mut Fields<'_>, t: &mut Tree) {
    use Known::*;
    if let Some(k) = f.first_string(&[GeoCity, LocCity]) {
        f.string_to(k, t, b"source.geo.city_name");
    }
    if let Some(k) = f.country_code() {
        f.string_to(k, t, b"source.geo.country_iso_code");
    }
    if let Some((lat, lon)) = f.coordinates() {
        f.number_to(lat, t, b"source.geo.location.lat");
        f.number_to(lon, t, b"source.geo.location.lon");
    }
    if let Some(number) = f.as_number() {
        t.uint(b"source.as.number", number);
        f.use_(AsNumber);
    }
}

/// `related.user`: the user's id and email.
fn related_users(f: &Fields<'_>, t: &mut Tree) {
    let users = [Known::UserId, Known::UserEmail].map(|k| f.string(k));
    list(t, b"related.user", &users);
}

/// `related.ip`: the client's and the resource's IPs.
fn related_ips(f: &Fields<'_>, t: &mut Tree) {
    let ips = [Known::ClientIp, Known::ResourceIp].map(|k| f.ip(k).map(|(ip, _)| ip));
    list(t, b"related.ip", &ips);
}

fn related(t: &mut Tree, path: &[u8], text: &[u8]) {
    list(t, path, &[Some(text)]);
}

/// A JSON array of the distinct strings given (already encoded); nothing
/// when there are none.
fn list(t: &mut Tree, path: &[u8], items: &[Option<&[u8]>]) {
    let mut seen: [Option<&[u8]>; 2] = [None; 2];
    let mut count = 0;
    for item in items.iter().flatten() {
        if !seen.contains(&Some(*item))
            && let Some(slot) = seen.get_mut(count)
        {
            *slot = Some(item);
            count += 1;
        }
    }
    if count == 0 {
        return;
    }
    let value = t.leaf(path);
    value.push(b'[');
    for (i, item) in seen.iter().flatten().enumerate() {
        if i > 0 {
            value.push(b',');
        }
        value.push(b'"');
        value.extend_from_slice(item);
        value.push(b'"');
    }
    value.push(b']');
}
