"""Validates OCSF events (NDJSON on standard input) against the OCSF 1.8.0
Network Activity class (4001), as JSON Schema generated from the schema
export that the `ocsf-json-schema` package ships.

Error records (the original record plus `twingate.parse_error`, the same
in every profile) are counted, not validated: they are not events.
Every event must validate, with the profiles it names in `metadata.profiles`
(the schema leaves profile attributes out unless their profile is named).
Exits 1 naming each invalid event (line number, path, reason), 0 otherwise.
Run by .ci/test (tests/validate/ocsf.sh); needs tests/python/requirements.txt.
"""

import json
import sys
from importlib import resources

from jsonschema import Draft202012Validator
from ocsf_json_schema.schema import OcsfJsonSchema
from referencing import Registry, Resource

VERSION = "1.8.0"
CLASS = "network_activity"
CLASS_UID = 4001


def main() -> int:
    export = json.loads(
        resources.files("ocsf_json_schema").joinpath(f"ocsf/{VERSION}.json").read_text()
    )
    ocsf = OcsfJsonSchema(export)

    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(ocsf.get_schema_from_uri(uri))

    registry = Registry(retrieve=retrieve)
    validators = {}
    events = invalid = error_records = 0
    first_event = None
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        event = json.loads(line)
        if "twingate.parse_error" in event:
            error_records += 1
            continue
        events += 1
        first_event = first_event or event
        profiles = tuple(sorted(event.get("metadata", {}).get("profiles", [])))
        if profiles not in validators:
            schema = ocsf.get_class_schema(CLASS, list(profiles))
            validators[profiles] = Draft202012Validator(schema, registry=registry)
        errors = list(validators[profiles].iter_errors(event))
        if event.get("class_uid") != CLASS_UID:
            errors.append(f"class_uid is {event.get('class_uid')!r}, not {CLASS_UID}")
        if errors:
            invalid += 1
            for error in errors[:5]:
                where = "/".join(map(str, getattr(error, "absolute_path", []))) or "(event)"
                reason = getattr(error, "message", error)
                print(f"event {number}: {where}: {reason}", file=sys.stderr)
    # The check itself must be able to fail: a stray field is rejected.
    if first_event is not None:
        stray = dict(first_event, not_an_ocsf_attribute=1)
        profiles = sorted(stray.get("metadata", {}).get("profiles", []))
        if Draft202012Validator(
            ocsf.get_class_schema(CLASS, profiles), registry=registry
        ).is_valid(stray):
            print("ocsf: the schema accepted a stray attribute; check broken", file=sys.stderr)
            return 1
    print(
        f"ocsf: {events} events, {invalid} invalid (OCSF {VERSION}, class {CLASS_UID}); "
        f"{error_records} error records not validated"
    )
    if events == 0:
        print("ocsf: no events read: the producer failed?", file=sys.stderr)
        return 1
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
