//! OCSF 1.8.0 Network Activity (class_uid 4001), with the `host` (for
//! `actor`) and `network_proxy` (for `proxy_endpoint`) profiles. Definitions:
//! the OCSF 1.8.0 schema export (as shipped by the `ocsf-json-schema` PyPI
//! package). The table, with the reasons, is in docs/profiles.md.

use super::layout::{Event, Node, Slot, catch_all, leaf, object, slot_of};
use super::{Activity, Fields, Known, LONG_MAX};

/// The output's objects and leaves, in the order written: each level
/// sorted by key as [`super::Tree`] sorts (a test checks it).
#[rustfmt::skip]
pub(crate) const LAYOUT: [Node; 57] = [
    leaf(0, b"activity_id"),
    leaf(0, b"activity_name"),
    object(0, b"actor"),
        object(1, b"user"),
            leaf(2, b"email_addr"),
            leaf(2, b"uid"),
    leaf(0, b"category_name"),
    leaf(0, b"category_uid"),
    leaf(0, b"class_name"),
    leaf(0, b"class_uid"),
    object(0, b"connection_info"),
        leaf(1, b"direction_id"),
        leaf(1, b"protocol_name"),
        leaf(1, b"protocol_num"),
        leaf(1, b"uid"),
    object(0, b"dst_endpoint"),
        leaf(1, b"hostname"),
        leaf(1, b"ip"),
        leaf(1, b"port"),
        leaf(1, b"uid"),
    leaf(0, b"duration"),
    object(0, b"metadata"),
        object(1, b"product"),
            leaf(2, b"name"),
            leaf(2, b"vendor_name"),
        leaf(1, b"profiles"),
        leaf(1, b"version"),
    object(0, b"proxy_endpoint"),
        leaf(1, b"name"),
        leaf(1, b"uid"),
    leaf(0, b"severity"),
    leaf(0, b"severity_id"),
    object(0, b"src_endpoint"),
        object(1, b"autonomous_system"),
            leaf(2, b"name"),
            leaf(2, b"number"),
        leaf(1, b"ip"),
        object(1, b"location"),
            leaf(2, b"city"),
            leaf(2, b"continent"),
            leaf(2, b"country"),
            leaf(2, b"lat"),
            leaf(2, b"long"),
            leaf(2, b"region"),
        leaf(1, b"name"),
        leaf(1, b"uid"),
    leaf(0, b"status"),
    leaf(0, b"status_detail"),
    leaf(0, b"status_id"),
    leaf(0, b"time"),
    object(0, b"traffic"),
        leaf(1, b"bytes"),
        leaf(1, b"bytes_in"),
        leaf(1, b"bytes_out"),
    leaf(0, b"type_name"),
    leaf(0, b"type_uid"),
    // Every payload and record field not mapped above, by its path.
    catch_all(b"unmapped"),
];

/// The slot of a path of [`LAYOUT`], found when the module is built.
macro_rules! at {
    ($path:literal) => {
        const { slot_of(&LAYOUT, $path) }
    };
}

/// Fields written as they are (JSON text).
const CONSTANTS: [(Slot, &[u8]); 10] = [
    (at!(b"class_uid"), b"4001"),
    (at!(b"class_name"), br#""Network Activity""#),
    (at!(b"category_uid"), b"4"),
    (at!(b"category_name"), br#""Network Activity""#),
    (at!(b"severity_id"), b"1"),
    (at!(b"severity"), br#""Informational""#),
    (at!(b"metadata.product.name"), br#""Twingate Connector""#),
    (at!(b"metadata.product.vendor_name"), br#""Twingate""#),
    (at!(b"metadata.version"), br#""1.8.0""#),
    (at!(b"metadata.profiles"), br#"["host","network_proxy"]"#),
];

/// Payload strings copied as they are.
const STRINGS: [(Known, Slot); 4] = [
    (Known::ErrorMessage, at!(b"status_detail")),
    (Known::ConnectionId, at!(b"connection_info.uid")),
    // The connector proxies the client's connection to the resource.
    (Known::ConnectorId, at!(b"proxy_endpoint.uid")),
    (Known::ConnectorName, at!(b"proxy_endpoint.name")),
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
    // The class and the activity.
    let activity = Activity::of(f);
    let (activity_id, activity_name): (u64, &[u8]) = match activity {
        Activity::Open => (1, b"Open"),
        Activity::Close => (2, b"Close"),
        Activity::Fail => (4, b"Fail"),
        Activity::Other => (99, b"Other"),
    };
    t.uint(at!(b"activity_id"), activity_id);
    t.encoded(at!(b"activity_name"), activity_name);
    t.uint(at!(b"type_uid"), 4001 * 100 + activity_id);
    let type_name = t.leaf(at!(b"type_name"));
    type_name.extend_from_slice(b"\"Network Activity: ");
    type_name.extend_from_slice(activity_name);
    type_name.push(b'"');
    let (status_id, status): (u64, &[u8]) = match activity {
        Activity::Open | Activity::Close => (1, b"Success"),
        Activity::Fail => (2, b"Failure"),
        Activity::Other => (0, b"Unknown"),
    };
    t.uint(at!(b"status_id"), status_id);
    t.encoded(at!(b"status"), status);

    // `time` is required: without a usable `timestamp` it is 0 (and the
    // payload's value stays under `unmapped`).
    let time = f.uint(Timestamp, LONG_MAX);
    t.uint(at!(b"time"), time.unwrap_or(0));
    if time.is_some() {
        f.use_(Timestamp);
    }
    // Milliseconds in both (Twingate's unit is believed to be ms).
    f.uint_to(Duration, LONG_MAX, t, at!(b"duration"));

    // The client.
    let mut endpoints = false;
    if let Some((ip, _)) = f.ip(ClientIp).filter(|(ip, _)| ip.len() <= 40) {
        t.encoded(at!(b"src_endpoint.ip"), ip);
        f.use_(ClientIp);
        endpoints = true;
    }
    endpoints |= f.string_to(DeviceId, t, at!(b"src_endpoint.uid"));
    location(f, t);
    if let Some(number) = f.as_number().filter(|&n| n <= i32::MAX as u64) {
        t.uint(at!(b"src_endpoint.autonomous_system.number"), number);
        f.use_(AsNumber);
    }
    f.string_to(AsName, t, at!(b"src_endpoint.autonomous_system.name"));

    // The resource.
    if let Some((ip, _)) = f.ip(ResourceIp).filter(|(ip, _)| ip.len() <= 40) {
        t.encoded(at!(b"dst_endpoint.ip"), ip);
        f.use_(ResourceIp);
        endpoints = true;
    }
    f.uint_to(ResourcePort, 65_535, t, at!(b"dst_endpoint.port"));
    if let Some(address) = f.string(ResourceAddress)
        && super::ip_literal(address).is_none()
    {
        t.encoded(at!(b"dst_endpoint.hostname"), address);
        f.use_(ResourceAddress);
        endpoints = true;
    }
    endpoints |= f.string_to(ResourceId, t, at!(b"dst_endpoint.uid"));
    if !endpoints {
        // The class requires an endpoint; Twingate lines always have both,
        // so this only marks payloads without any.
        t.encoded(at!(b"src_endpoint.name"), b"unknown");
    }

    // The connection.
    let protocol = f.string(Protocol);
    if protocol.is_some() || f.present(ConnectionId) {
        // Required by `network_connection_info`; Twingate does not say.
        t.uint(at!(b"connection_info.direction_id"), 0);
    }
    if let Some(name) = protocol {
        t.encoded(at!(b"connection_info.protocol_name"), name);
        f.use_(Protocol);
        // IANA protocol numbers.
        let number = match name {
            b"icmp" => Some(1),
            b"tcp" => Some(6),
            b"udp" => Some(17),
            b"ipv6-icmp" | b"icmpv6" => Some(58),
            _ => None,
        };
        if let Some(number) = number {
            t.uint(at!(b"connection_info.protocol_num"), number);
        }
    }
    // rx/tx: believed counted at the client (see docs/profiles.md).
    let rx = f.uint_to(Rx, LONG_MAX, t, at!(b"traffic.bytes_in"));
    let tx = f.uint_to(Tx, LONG_MAX, t, at!(b"traffic.bytes_out"));
    if let (Some(rx), Some(tx)) = (rx, tx)
        && let Some(sum) = rx.checked_add(tx).filter(|&s| s <= LONG_MAX)
    {
        t.uint(at!(b"traffic.bytes"), sum);
    }

    // The user (`user` needs a uid; `email_t` takes plain ASCII addresses).
    if f.string_to(UserId, t, at!(b"actor.user.uid"))
        && let Some(email) = f.string(UserEmail).filter(|e| plain_email(e))
    {
        t.encoded(at!(b"actor.user.email_addr"), email);
        f.use_(UserEmail);
    }
}

/// `src_endpoint.location`, only with one of city, country or region (the
/// object requires one).
fn location(f: &mut Fields<'_>, t: &mut Event) {
    use Known::*;
    let city = f.first_string(&[GeoCity, LocCity]);
    let country = f.country_code();
    let region = f.string(LocRegion).map(|_| LocRegion);
    if city.is_none() && country.is_none() && region.is_none() {
        return;
    }
    if let Some(k) = city {
        f.string_to(k, t, at!(b"src_endpoint.location.city"));
    }
    if let Some(k) = country {
        f.string_to(k, t, at!(b"src_endpoint.location.country"));
    }
    if let Some(k) = region {
        f.string_to(k, t, at!(b"src_endpoint.location.region"));
    }
    f.string_to(GeoContinentName, t, at!(b"src_endpoint.location.continent"));
    if let Some((lat, lon)) = f.coordinates() {
        f.number_to(lat, t, at!(b"src_endpoint.location.lat"));
        f.number_to(lon, t, at!(b"src_endpoint.location.long"));
    }
}

/// What OCSF's `email_t` pattern accepts:
/// `^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`
/// (`+-/` is a range there: `+ , - . /`).
fn plain_email(text: &[u8]) -> bool {
    let Some(at) = text.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (
        text.get(..at).unwrap_or_default(),
        text.get(at + 1..).unwrap_or_default(),
    );
    let local_ok = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+,-./=?^_`{|}~".contains(b);
    let label_ok = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-';
    let Some(dot) = domain.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (first, rest) = (
        domain.get(..dot).unwrap_or_default(),
        domain.get(dot + 1..).unwrap_or_default(),
    );
    !local.is_empty()
        && local.iter().all(local_ok)
        && !first.is_empty()
        && first.iter().all(label_ok)
        && !rest.is_empty()
        && rest.iter().all(|b| label_ok(b) || *b == b'.')
}

#[cfg(test)]
mod tests {
    use super::plain_email;

    #[test]
    fn emails_as_ocsf_email_t_accepts_them() {
        for ok in [
            "user@example.com",
            "a.user+ops@example.com",
            "svc-backup@corp.example",
            "x@a-b.c.d",
        ] {
            assert!(plain_email(ok.as_bytes()), "{ok}");
        }
        for not in [
            "zoë@exämple.de",
            "user@localhost",
            "@example.com",
            "user@.com",
            "user@example.",
            "a b@c.d",
        ] {
            assert!(!plain_email(not.as_bytes()), "{not}");
        }
    }
}
