//! Elastic Common Schema 9.x (field definitions: the `@elastic/ecs` 9.4.0
//! package), as nested objects the way Elastic's shippers write them. The
//! table, with the reasons, is in docs/profiles.md.

use super::layout::{Event, Node, Slot, catch_all, leaf, object, slot_of};
use super::{Activity, Fields, Ip, Known, LONG_MAX, MAX_EPOCH_MS, push_rfc3339};

/// The output's objects and leaves, in the order written: each level
/// sorted by key as [`super::Tree`] sorts (a test checks it); every
/// top-level name this profile may write.
#[rustfmt::skip]
pub(crate) const LAYOUT: [Node; 59] = [
    leaf(0, b"@timestamp"),
    object(0, b"destination"),
        leaf(1, b"address"),
        leaf(1, b"bytes"),
        leaf(1, b"domain"),
        leaf(1, b"ip"),
        leaf(1, b"port"),
    object(0, b"device"),
        leaf(1, b"id"),
    object(0, b"ecs"),
        leaf(1, b"version"),
    object(0, b"error"),
        leaf(1, b"message"),
    object(0, b"event"),
        leaf(1, b"action"),
        leaf(1, b"category"),
        leaf(1, b"duration"),
        leaf(1, b"kind"),
        leaf(1, b"outcome"),
        leaf(1, b"type"),
    object(0, b"network"),
        leaf(1, b"bytes"),
        leaf(1, b"name"),
        leaf(1, b"transport"),
        leaf(1, b"type"),
    object(0, b"observer"),
        leaf(1, b"name"),
        leaf(1, b"product"),
        leaf(1, b"type"),
        leaf(1, b"vendor"),
    object(0, b"related"),
        leaf(1, b"hosts"),
        leaf(1, b"ip"),
        leaf(1, b"user"),
    object(0, b"rule"),
        leaf(1, b"name"),
    object(0, b"source"),
        leaf(1, b"address"),
        object(1, b"as"),
            leaf(2, b"number"),
            object(2, b"organization"),
                leaf(3, b"name"),
        leaf(1, b"bytes"),
        object(1, b"geo"),
            leaf(2, b"city_name"),
            leaf(2, b"continent_code"),
            leaf(2, b"continent_name"),
            leaf(2, b"country_iso_code"),
            leaf(2, b"country_name"),
            object(2, b"location"),
                leaf(3, b"lat"),
                leaf(3, b"lon"),
            leaf(2, b"region_name"),
            leaf(2, b"timezone"),
        leaf(1, b"ip"),
    // Every payload field not mapped above, by its Twingate path.
    catch_all(b"twingate"),
    object(0, b"user"),
        leaf(1, b"email"),
        leaf(1, b"id"),
];

/// The slot of a path of [`LAYOUT`], found when the module is built.
macro_rules! at {
    ($path:literal) => {
        const { slot_of(&LAYOUT, $path) }
    };
}

/// Fields written as they are (JSON text).
const CONSTANTS: [(Slot, &[u8]); 6] = [
    (at!(b"ecs.version"), br#""9.4.0""#),
    (at!(b"event.kind"), br#""event""#),
    (at!(b"event.category"), br#"["network"]"#),
    // The connector observed the connection, as a proxy between the client
    // and the resource.
    (at!(b"observer.vendor"), br#""Twingate""#),
    (at!(b"observer.product"), br#""Twingate Connector""#),
    (at!(b"observer.type"), br#""proxy""#),
];

/// Payload strings copied as they are.
const STRINGS: [(Known, Slot); 15] = [
    (Known::EventType, at!(b"event.action")),
    (Known::ErrorMessage, at!(b"error.message")),
    (Known::AppliedRule, at!(b"rule.name")),
    (Known::Protocol, at!(b"network.transport")),
    (Known::RemoteNetworkName, at!(b"network.name")),
    (Known::UserId, at!(b"user.id")),
    (Known::UserEmail, at!(b"user.email")),
    // Twingate's own id of the client device.
    (Known::DeviceId, at!(b"device.id")),
    (Known::ConnectorName, at!(b"observer.name")),
    (Known::GeoCountryName, at!(b"source.geo.country_name")),
    (Known::GeoContinentCode, at!(b"source.geo.continent_code")),
    (Known::GeoContinentName, at!(b"source.geo.continent_name")),
    (Known::GeoTimezone, at!(b"source.geo.timezone")),
    (Known::LocRegion, at!(b"source.geo.region_name")),
    (Known::AsName, at!(b"source.as.organization.name")),
];

#[inline(never)]
pub(crate) fn map(f: &mut Fields<'_>, t: &mut Event) {
    use Known::*;
    for (path, json) in CONSTANTS {
        t.json(path, json);
    }
    for (k, path) in STRINGS {
        f.string_to(k, t, path);
    }

    if let Some(ms) = f.uint(Timestamp, MAX_EPOCH_MS) {
        let value = t.leaf(at!(b"@timestamp"));
        value.push(b'"');
        push_rfc3339(value, ms);
        value.push(b'"');
        f.use_(Timestamp);
    }

    // The event.
    let activity = Activity::of(f);
    t.json(
        at!(b"event.type"),
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
    t.encoded(at!(b"event.outcome"), outcome);
    // Duration: believed to be milliseconds; ECS wants nanoseconds.
    if let Some(ms) = f.uint(Duration, LONG_MAX / 1_000_000) {
        t.uint(at!(b"event.duration"), ms * 1_000_000);
        f.use_(Duration);
    }

    // The client. (Each IP is checked once: `related.ip` takes them too.)
    let client_ip = f.ip(ClientIp).map(|(ip, _)| ip);
    if f.string_to(ClientIp, t, at!(b"source.address"))
        && let Some(ip) = client_ip
    {
        t.encoded(at!(b"source.ip"), ip);
    }
    geo(f, t);

    // The resource.
    let address = f.first_string(&[ResourceAddress, ResourceIp]);
    if let Some(k) = address
        && let Some(text) = f.string(k)
    {
        t.encoded(at!(b"destination.address"), text);
        if k == ResourceAddress {
            f.use_(ResourceAddress);
            if super::ip_literal(text).is_none() {
                t.encoded(at!(b"destination.domain"), text);
                related(t, at!(b"related.hosts"), text);
            }
        }
    }
    let resource_ip = f.ip(ResourceIp);
    if let Some((ip, family)) = resource_ip {
        t.encoded(at!(b"destination.ip"), ip);
        t.encoded(
            at!(b"network.type"),
            match family {
                Ip::V4 => b"ipv4",
                Ip::V6 => b"ipv6",
            },
        );
        f.use_(ResourceIp);
    }
    f.uint_to(ResourcePort, 65_535, t, at!(b"destination.port"));

    // The connection. rx/tx: believed counted at the client (rx received
    // from the resource, tx sent to it); Twingate does not document it.
    let tx = f.uint_to(Tx, LONG_MAX, t, at!(b"source.bytes"));
    let rx = f.uint_to(Rx, LONG_MAX, t, at!(b"destination.bytes"));
    if let (Some(rx), Some(tx)) = (rx, tx)
        && let Some(sum) = rx.checked_add(tx).filter(|&s| s <= LONG_MAX)
    {
        t.uint(at!(b"network.bytes"), sum);
    }

    // Who.
    related_users(f, t);
    let ips = [client_ip, resource_ip.map(|(ip, _)| ip)];
    list(t, at!(b"related.ip"), &ips);
}

/// `source.geo.*` and `source.as.*` from v1 `client_geo` or v2 `location`.
fn geo(f: &mut Fields<'_>, t: &mut Event) {
    use Known::*;
    if let Some(k) = f.first_string(&[GeoCity, LocCity]) {
        f.string_to(k, t, at!(b"source.geo.city_name"));
    }
    if let Some(k) = f.country_code() {
        f.string_to(k, t, at!(b"source.geo.country_iso_code"));
    }
    if let Some((lat, lon)) = f.coordinates() {
        f.number_to(lat, t, at!(b"source.geo.location.lat"));
        f.number_to(lon, t, at!(b"source.geo.location.lon"));
    }
    if let Some(number) = f.as_number() {
        t.uint(at!(b"source.as.number"), number);
        f.use_(AsNumber);
    }
}

/// `related.user`: the user's id and email.
fn related_users(f: &Fields<'_>, t: &mut Event) {
    let users = [Known::UserId, Known::UserEmail].map(|k| f.string(k));
    list(t, at!(b"related.user"), &users);
}

fn related(t: &mut Event, slot: Slot, text: &[u8]) {
    list(t, slot, &[Some(text)]);
}

/// A JSON array of the distinct strings given (already encoded); nothing
/// when there are none.
fn list(t: &mut Event, slot: Slot, items: &[Option<&[u8]>]) {
    let mut seen: [Option<&[u8]>; 2] = [None; 2];
    let mut count = 0;
    for item in items.iter().flatten() {
        if !seen.iter().flatten().any(|s| super::same(s, item))
            && let Some(slot) = seen.get_mut(count)
        {
            *slot = Some(item);
            count += 1;
        }
    }
    if count == 0 {
        return;
    }
    let value = t.leaf(slot);
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
