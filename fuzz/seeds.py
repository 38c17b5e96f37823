#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/seeds/<target>/ from crates/bookhook/fixtures.

Each seed is encoded the way `arbitrary` decodes the target's `Input`
(see src/lib.rs): enums are a little-endian u32 choosing variant
(x * count) >> 32, bools one byte (low bit), integers little-endian,
`Option` a bool then the value, `Vec` a bool before each element and a
false after the last, `Blob` a u16 little-endian length then the bytes, and
the last field (the body) takes the rest of the input.

Run from the repository root: python3 fuzz/seeds.py
Check a seed with: RUSTC_BOOTSTRAP=1 cargo fuzz fmt <target> fuzz/seeds/<target>/<file>
"""

import hashlib
import json
import pathlib
import re
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates" / "bookhook" / "fixtures"
SEEDS = ROOT / "fuzz" / "seeds"

NOW = 1767225600  # the time of every vector in signatures.json


def enum(index, count):
    return struct.pack("<I", -(-(index << 32) // count))


def boolean(value):
    return b"\x01" if value else b"\x00"


def u8(value):
    return struct.pack("<B", value)


def u16(value):
    return struct.pack("<H", value)


def i16(value):
    return struct.pack("<h", value)


def u64(value):
    return struct.pack("<Q", value)


def blob(data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) <= 0xFFFF
    return u16(len(data)) + data


def option(encoded):
    return b"\x00" if encoded is None else b"\x01" + encoded


def vec(items):
    return b"".join(b"\x01" + item for item in items) + b"\x00"


NAMES = [
    "authorization",
    "x-calendence-signature",
    "x-moncreneau-signature",
    "x-webhook-signature",
    "x-moncreneau-event",
    "decoda-signature",
    "x-signature",
    "x-timestamp",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "content-type",
]


def header(name, value, upper=False):
    lower = name.lower()
    if lower in NAMES:
        encoded_name = enum(NAMES.index(lower), len(NAMES) + 1)
    else:
        encoded_name = enum(len(NAMES), len(NAMES) + 1) + blob(name)
    return encoded_name + boolean(upper) + blob(value)


PRESETS = [
    "eagenda",
    "eagenda_hmac",
    "moncreneau",
    "orufy",
    "calendence",
    "decoda",
    "decoda_python_json",
    "standard",
    "hmac_base64_timestamp",
]
PRESET_SECRETS = {
    "eagenda": "orufy-shared-token-7",
    "orufy": "orufy-shared-token-7",
    "eagenda_hmac": "eagenda-access-secret",
    "moncreneau": "whsec_mcTestSecret42",
    "calendence": "cal_test_secret",
    "decoda": "decoda-webhook-secret",
    "decoda_python_json": "decoda-webhook-secret",
    "standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "hmac_base64_timestamp": "base64-secret",
}

def registry_providers():
    """The providers' names in the order of the core's `registry!` list
    (`Provider::ALL`), which `ProviderChoice` chooses from."""
    text = (ROOT / "crates" / "bookhook" / "src" / "provider" / "registry.rs").read_text()
    start = text.index("macro_rules! registry")
    block = text[start : text.index("pub(crate) use registry;", start)]
    return re.findall(r"^\s*[A-Z]\w* => (\w+),$", block, re.M)


PROVIDERS = registry_providers()


def vector_preset(vector):
    scheme = vector["scheme"]
    if scheme["type"] == "standard":
        return "standard"
    if scheme["type"] == "token":
        return "orufy"
    names = [name.lower() for name in scheme["headers"]]
    if "x-calendence-signature" in names:
        return "calendence"
    if "x-moncreneau-signature" in names:
        return "moncreneau"
    if "decoda-signature" in names:
        return "decoda_python_json" if scheme.get("python_json_compat") else "decoda"
    if "signed_timestamp" in scheme:
        return "eagenda_hmac"
    return "hmac_base64_timestamp"


def vector_body(vector):
    if "body_hex" in vector:
        return bytes.fromhex(vector["body_hex"])
    return vector["body"].encode()


def payloads():
    for path in sorted((FIXTURES / "payloads").glob("*/*.json")):
        yield path.parent.name, path.stem, path.read_bytes()


def verify_seed(preset, now, headers, body, secret=None, query=None, message_id=None):
    extra = None if secret is None or secret == PRESET_SECRETS[preset] else blob(secret)
    return (
        enum(PRESETS.index(preset), len(PRESETS))
        + u64(now * 1000)
        + option(extra)
        + option(None if message_id is None else blob(message_id))
        + u16(7)
        + u8(0x20)
        + vec([header(name, value) for name, value in headers])
        + option(None if query is None else blob(query))
        + body
    )


STANDARD_NAMES = ["webhook", "svix", "mixed"]
ENTRIES = ["raw", "valid", "valid_unpadded", "valid_url_safe", "wrong"]


def entry(kind, data=None):
    encoded = enum(ENTRIES.index(kind), len(ENTRIES))
    if kind == "raw":
        encoded += blob(data)
    elif kind == "wrong":
        encoded += u8(data)
    return encoded


def standard_seed(names, now, msg_id, timestamp, entries, body, repeat=False):
    return (
        enum(STANDARD_NAMES.index(names), len(STANDARD_NAMES))
        + u64(now * 1000)
        + option(None if msg_id is None else blob(msg_id))
        + option(None if timestamp is None else blob(timestamp))
        + option(None if entries is None else vec(entries))
        + boolean(repeat)
        + body
    )


def parse_seed(provider, headers, body):
    return (
        enum(PROVIDERS.index(provider), len(PROVIDERS))
        + vec([header(name, value) for name, value in headers])
        + body
    )


DISPATCH_ENDPOINTS = ["calendence", "standard"]
METHODS = ["POST", "post", "GET", "PUT"]


def dispatch_seed(endpoint, method, sign, sends, skew, headers, body, query=None):
    if method in METHODS:
        encoded_method = enum(METHODS.index(method), len(METHODS) + 1)
    else:
        encoded_method = enum(len(METHODS), len(METHODS) + 1) + blob(method)
    return (
        enum(DISPATCH_ENDPOINTS.index(endpoint), len(DISPATCH_ENDPOINTS))
        + encoded_method
        + boolean(sign)
        + u8(sends - 1)
        + i16(skew)
        + vec([header(name, value) for name, value in headers])
        + option(None if query is None else blob(query))
        + body
    )


def main():
    vectors = json.loads((FIXTURES / "signatures.json").read_text())["vectors"]
    seeds = {"verify": {}, "standard_header": {}, "parse": {}, "dispatch": {}}

    for vector in vectors:
        preset = vector_preset(vector)
        body = vector_body(vector)
        headers = [tuple(pair) for pair in vector["headers"]]
        seeds["verify"][vector["name"]] = verify_seed(
            preset,
            vector["now"],
            headers,
            body,
            secret=vector["secrets"][0],
            query=vector.get("query"),
            message_id=vector.get("sign", {}).get("id"),
        )
        if vector["scheme"]["type"] == "standard":
            by_name = {name.lower(): value for name, value in headers}
            family = "svix" if "svix-id" in by_name else "webhook"
            raw = [
                entry("raw", part)
                for part in by_name[family + "-signature"].split(" ")
            ]
            seeds["standard_header"][vector["name"]] = standard_seed(
                family,
                vector["now"],
                by_name[family + "-id"],
                by_name[family + "-timestamp"],
                raw,
                body,
            )
            seeds["dispatch"][vector["name"]] = dispatch_seed(
                "standard", "POST", False, 2, 0, headers, body
            )
        if preset == "calendence":
            seeds["dispatch"][vector["name"]] = dispatch_seed(
                "calendence", "POST", False, 2, 0, headers, body
            )

    for provider, event, body in payloads():
        name = f"{provider}_{event}"
        preset = {"eagenda": "eagenda_hmac"}.get(provider, provider)
        seeds["verify"][name] = verify_seed(preset, NOW, [], body)
        seeds["parse"][name] = parse_seed(provider, [], body)
        seeds["standard_header"][name] = standard_seed(
            "webhook", NOW, "msg_" + event, str(NOW), [entry("valid")], body
        )
        seeds["dispatch"][name] = dispatch_seed("calendence", "POST", True, 2, 400, [], body)

    # A header-driven parse per provider that reads headers.
    standard_body = (
        b'{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"c1"}}'
    )
    seeds["parse"]["standard_webhook_id"] = parse_seed(
        "standard", [("webhook-id", "msg_1")], standard_body
    )
    seeds["parse"]["standard_svix_id"] = parse_seed("standard", [("svix-id", "msg_1")], standard_body)
    seeds["parse"]["hmac_generic"] = parse_seed("hmac", [], standard_body)
    seeds["parse"]["moncreneau_event_header"] = parse_seed(
        "moncreneau",
        [("X-Moncreneau-Event", "APPOINTMENT_CREATED")],
        b'{"id":"evt_1","created":"2026-01-21T14:30:00Z","data":{"object":{"id":12345}}}',
    )
    seeds["standard_header"]["every_entry_kind"] = standard_seed(
        "webhook",
        NOW,
        "msg_1",
        str(NOW),
        [entry("wrong", 3), entry("raw", "v1a,AAAA"), entry("valid_unpadded"), entry("valid_url_safe")],
        standard_body,
    )
    seeds["dispatch"]["standard_signed"] = dispatch_seed(
        "standard", "POST", True, 3, 301, [], standard_body
    )
    seeds["dispatch"]["get"] = dispatch_seed("calendence", "GET", True, 1, 0, [], b"{}")
    seeds["dispatch"]["other_method"] = dispatch_seed("calendence", "PATCH", False, 1, 0, [], b"{}")

    for target, files in seeds.items():
        directory = SEEDS / target
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        for name, data in sorted(files.items()):
            digest = hashlib.sha1(data).hexdigest()[:8]
            (directory / f"{name}-{digest}").write_bytes(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
