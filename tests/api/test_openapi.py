"""
clients/openapi.yaml against the daemon it describes.

Static (no database needed):
  * the YAML parses with the small reader below (a strict subset of YAML:
    block style, two-space steps, short flow lists, no anchors, no tags, no
    plain scalars that YAML 1.1 would read as booleans) and is OpenAPI 3.1
    in shape: every $ref resolves, every schema keyword is one we know,
    operationIds are unique, tags are declared, path parameters match the
    templates;
  * the routes: every {method, path} of daemon/routes.c is an operation of
    the YAML and every operation a route (path parameters compared as {}),
    with the same roles (x-roles) and route name (x-siaod-route); the /ui*
    prefix route stands for the YAML paths /ui and /ui/...;
  * the request schemas follow the validation tables (struct vfield) of
    daemon/api_*.c, and the enums the C code lists (kinds, statuses, event
    types, rules, ...);
  * the error contract per operation: 401/503 when a token is needed, 403
    unless every role may call it, 400/413/415 with a body, Idempotency-Key
    and 409/422 on POST, If-Match and 412 on PATCH, 404 with an id, limit
    and cursor on lists.

Live (skipped without SIAOD_BIN and SIAOD_TEST_DATABASE_URL): a real daemon
is driven through every operation; each answer's status must be documented
for that operation, its body valid against the documented schema (members
the schema does not list count as errors), its documented headers present.
A local receiver takes the webhooks: each of the five events arrives, its
signature checks out and its body is valid against the `webhooks` section.
"""
import base64
import copy
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import tempfile
import threading
import time

import jsonschema   # Debian python3-jsonschema
import yaml         # Debian python3-yaml

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import Daemon, Database, eventually, free_port, run_all, test  # noqa: E402

SOURCE_DIR = os.environ.get("SIAOD_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
YAML_PATH = os.path.join(SOURCE_DIR, "clients", "openapi.yaml")
DAEMON_DIR = os.path.join(SOURCE_DIR, "daemon")

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ROLE_LETTERS = {"A": "admin", "R": "referent", "P": "porteur"}
ALL_ROLES = {"admin", "referent", "porteur"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------- reading the YAML (python3-yaml)
#
# PyYAML reads YAML 1.1, where a plain `on`, `yes` or `no` is a boolean and a
# plain 2026-01-01 a date, while OpenAPI 3.1 tools read YAML 1.2 (strings).
# The document must mean the same to both: such scalars must be quoted, keys
# are strings, a key appears once per mapping, and no anchors, aliases or
# tags (which some OpenAPI tools refuse).

class YamlError(ValueError):
    pass


_YAML11_BOOL = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and keeps YAML 1.1 timestamps as
    the strings YAML 1.2 sees (the checks below refuse the plain ones)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise YamlError("line %d: duplicate key %r" % (key_node.start_mark.line + 1, key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _check_yaml_events(text):
    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        line = ev.start_mark.line + 1
        if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
            raise YamlError("line %d: anchors and aliases are not used here (an indicator)" % line)
        if isinstance(ev, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)) \
                and ev.tag and not getattr(ev, "implicit", (True,))[0] and isinstance(ev, yaml.ScalarEvent):
            raise YamlError("line %d: tag %s (an indicator)" % (line, ev.tag))
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)) and ev.tag and not ev.implicit:
            raise YamlError("line %d: tag %s (an indicator)" % (line, ev.tag))
        if isinstance(ev, yaml.ScalarEvent) and ev.style is None:
            if _YAML11_BOOL.match(ev.value):
                raise YamlError("line %d: quote %r (a boolean to YAML 1.1 readers)" % (line, ev.value))
            if yaml.resolver.Resolver().resolve(yaml.ScalarNode, ev.value, (True, False)) \
                    == "tag:yaml.org,2002:timestamp":
                raise YamlError("line %d: quote %r (a date to YAML 1.1 readers)" % (line, ev.value))


def _check_keys(node, where="#"):
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                raise YamlError("%s: quote the key %r (it is not a string to YAML)" % (where, k))
            _check_keys(v, where + "/" + k)
    elif isinstance(node, list):
        for n, v in enumerate(node):
            _check_keys(v, "%s/%d" % (where, n))


def load_yaml(text):
    try:
        _check_yaml_events(text)
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as e:
        raise YamlError(str(e))
    _check_keys(data)
    return data


# ---------------------------------------------------------------- the document

def resolve(doc, ref):
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise KeyError("only local references: %r" % ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise KeyError(ref)
        node = node[part]
    return node


def deref(doc, node):
    """Follows $ref chains (for parameters, responses, headers, request bodies)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
        seen += 1
        if seen > 20:
            raise KeyError("reference loop")
    return node


def operations(doc):
    """(path, method, operation, path item) of every operation under paths."""
    for path, item in doc.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                yield path, m, item[m], item


def op_parameters(doc, item, op):
    params = {}
    for p in (item.get("parameters") or []) + (op.get("parameters") or []):
        p = deref(doc, p)
        params[(p["name"], p["in"])] = p
    return params


def norm_path(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


SCHEMA_KEYWORDS = {
    "$ref", "type", "enum", "const", "properties", "required", "additionalProperties",
    "propertyNames", "items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum",
    "minLength", "maxLength", "pattern", "format", "allOf", "anyOf", "oneOf", "not", "if",
    "then", "else", "dependentRequired", "description", "title", "examples", "default",
    "deprecated", "readOnly", "writeOnly", "contentMediaType",
}


def walk_schema(schema, where, visit):
    """Calls visit(schema, where) on schema and every subschema."""
    if not isinstance(schema, dict):
        return
    visit(schema, where)
    for k in ("items", "not", "if", "then", "else", "propertyNames"):
        if isinstance(schema.get(k), dict):
            walk_schema(schema[k], where + "/" + k, visit)
    if isinstance(schema.get("additionalProperties"), dict):
        walk_schema(schema["additionalProperties"], where + "/additionalProperties", visit)
    for k in ("allOf", "anyOf", "oneOf"):
        for n, sub in enumerate(schema.get(k) or []):
            walk_schema(sub, "%s/%s/%d" % (where, k, n), visit)
    for name, sub in (schema.get("properties") or {}).items():
        walk_schema(sub, where + "/properties/" + name, visit)


def all_schemas(doc):
    """(where, schema) of every schema root in the document."""
    out = []
    for name, s in doc["components"].get("schemas", {}).items():
        out.append(("#/components/schemas/" + name, s))

    def media(where, content):
        for mt, m in (content or {}).items():
            if "schema" in m:
                out.append((where + "/content/" + mt, m["schema"]))

    for kind in ("parameters", "headers"):
        for name, p in doc["components"].get(kind, {}).items():
            if "schema" in p:
                out.append(("#/components/%s/%s" % (kind, name), p["schema"]))
    for name, r in doc["components"].get("responses", {}).items():
        media("#/components/responses/" + name, r.get("content"))
        for h, hv in (r.get("headers") or {}).items():
            if "schema" in hv:
                out.append(("#/components/responses/%s/headers/%s" % (name, h), hv["schema"]))
    for section in ("paths", "webhooks"):
        for path, item in (doc.get(section) or {}).items():
            for m in METHODS:
                op = item.get(m)
                if not op:
                    continue
                where = "%s %s %s" % (section, m.upper(), path)
                for p in (item.get("parameters") or []) + (op.get("parameters") or []):
                    if "schema" in p:
                        out.append((where + " parameter " + p["name"], p["schema"]))
                rb = op.get("requestBody")
                if rb and "$ref" not in rb:
                    media(where + " requestBody", rb.get("content"))
                for st, r in (op.get("responses") or {}).items():
                    if "$ref" not in r:
                        media("%s %s" % (where, st), r.get("content"))
                        for h, hv in (r.get("headers") or {}).items():
                            if "schema" in hv:
                                out.append(("%s %s header %s" % (where, st, h), hv["schema"]))
    return out


# ---------------------------------------------------------------- validating (python3-jsonschema)
#
# Draft 2020-12, the dialect of OpenAPI 3.1, with the document's own
# "#/components/..." references. Formats: date and date-time are checked
# (RFC 3339 full-date and date-time; Python's fromisoformat alone accepts
# more spellings), the others are annotations as the standard says.
# Strict: an object member that no `properties` of its schema (with its $ref,
# allOf, anyOf, oneOf) names is an error, unless the schema leaves members
# open with additionalProperties: each place where a value's schema is used
# (the root, items, property values) gets `unevaluatedProperties: false`,
# which JSON Schema evaluates through $ref and the combinators.

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _is_date(v):
    if not isinstance(v, str):
        return True
    return bool(_DATE.match(v)) and datetime.date.fromisoformat(v) is not None


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(v):
    if not isinstance(v, str):
        return True
    if not _DATETIME.match(v):
        return False
    datetime.datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
    return True


class Validator:
    def __init__(self, doc):
        self.doc = doc
        self.strict_doc = self._strict_copy(doc)
        self.resolver = jsonschema.RefResolver.from_schema(self.strict_doc)

    def _known(self, s, depth=0):
        """Member names the schema documents, or None when it leaves them open
        (or documents none)."""
        if not isinstance(s, dict) or depth > 20 or "additionalProperties" in s:
            return None
        names = set(s.get("properties") or {})
        found = "properties" in s
        subs = ([resolve(self.doc, s["$ref"])] if "$ref" in s else []) + list(s.get("allOf") or []) \
            + list(s.get("anyOf") or []) + list(s.get("oneOf") or [])
        for sub in subs:
            if isinstance(sub, dict) and "additionalProperties" in sub:
                return None
            k = self._known(sub, depth + 1)
            if k is not None:
                names |= k
                found = True
        return names if found else None

    def _wrap(self, s):
        if self._known(s) is None:
            return s
        return {"allOf": [s], "unevaluatedProperties": False}

    def _strict_copy(self, doc):
        d = copy.deepcopy(doc)

        def visit(s, where):
            for k in ("items",):
                if isinstance(s.get(k), dict):
                    s[k] = self._wrap(s[k])
            if isinstance(s.get("additionalProperties"), dict):
                s["additionalProperties"] = self._wrap(s["additionalProperties"])
            for name, sub in list((s.get("properties") or {}).items()):
                s["properties"][name] = self._wrap(sub)

        # the originals are walked (so that a wrapped child is not wrapped twice);
        # the copy is changed at the same places
        for where, s in all_schemas(d):
            walk_schema(s, where, visit)
        return d

    def errors(self, inst, schema, strict=True):
        schema = self._wrap(schema) if strict else schema
        v = jsonschema.Draft202012Validator(schema, resolver=self.resolver, format_checker=FORMATS)
        out = []
        for e in sorted(v.iter_errors(inst), key=lambda e: list(e.absolute_path)):
            path = "$" + "".join("[%d]" % p if isinstance(p, int) else ".%s" % p for p in e.absolute_path)
            msg = e.message
            if e.validator == "unevaluatedProperties":
                msg = "member(s) not in the schema: " + msg
            out.append("%s: %s" % (path, msg[:300]))
        return out


# ---------------------------------------------------------------- the C side

def c_routes():
    """[(method, pattern, roles set, name)] of daemon/routes.c, in table order."""
    text = read(os.path.join(DAEMON_DIR, "routes.c"))
    m = re.search(r"const struct route routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, "routes.c: the routes[] table was not found"
    body = m.group(1)
    # rows end with the route's effects (after the name): read up to the name
    rows = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*([^,]+?)\s*,\s*"([^"]+)"\s*(?:,[^{}]*)?\}', body)
    lines = [l for l in body.splitlines() if l.strip().startswith('{"')]
    assert len(rows) == len(lines), "routes.c: %d rows but %d parsed; update the regex" % (len(lines), len(rows))
    out = []
    for method, pattern, _handler, roles, name in rows:
        rs = set() if roles.strip() == "0" else {ROLE_LETTERS[x.strip()] for x in roles.split("|")}
        out.append((method, pattern, rs, name))
    return out


MATCH_H = os.path.join(DAEMON_DIR, "..", "include", "siaod", "match.h")


def c_xmacro_lists():
    """MACRO -> [codes] for the X-macro lists of include/siaod/match.h
    (`#define MATCH_KINDS(X) X(IML, "iml") ...`)."""
    out = {}
    for m in re.finditer(r"#define\s+(MATCH_\w+)\(X\)((?:[^\n]*\\\n)*[^\n]*)", read(MATCH_H)):
        out[m.group(1)] = re.findall(r'X\(\s*\w+\s*,\s*"([^"]*)"\s*\)', m.group(2))
    return out


def c_string_arrays(filename):
    """NAME -> [strings] for every `const char *const NAME[] = {...}` of a daemon file;
    an X-macro list of match.h inside the braces stands for its codes."""
    text = read(os.path.join(DAEMON_DIR, filename))
    lists = c_xmacro_lists()
    out = {}
    for m in re.finditer(r"const\s+char\s*\*\s*const\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\};", text, re.S):
        body = m.group(2)
        values = []
        for x in re.finditer(r'"([^"]*)"|\b(MATCH_[A-Z_]+)\(\w+\)', body):
            values.extend([x.group(1)] if x.group(1) is not None else lists[x.group(2)])
        out[m.group(1)] = values
    return out


def c_constants():
    consts = {"INT64_MAX": 2 ** 63 - 1}
    for f in ("auth.h", "config.h", "validate.h", MATCH_H):
        p = os.path.join(DAEMON_DIR, f)
        if os.path.exists(p):
            for m in re.finditer(r"#define\s+(\w+)\s+(-?\d+)\b", read(p)):
                consts[m.group(1)] = int(m.group(2))
    return consts


def c_vfields(filename, table):
    """[{name, type, required, nullable, min, max, values, readonly}] of a vfield table."""
    text = read(os.path.join(DAEMON_DIR, filename))
    m = re.search(r"static const struct vfield %s\[\]\s*=\s*\{(.*?)\n\};" % table, text, re.S)
    assert m, "%s: vfield table %s not found" % (filename, table)
    consts = c_constants()
    arrays = dict(c_string_arrays("api.c"))
    arrays.update(c_string_arrays("match.c"))   # match_*_codes: the enums' one table
    arrays.update(c_string_arrays(filename))

    def num(s):
        s = s.strip()
        return consts[s] if s in consts else int(s)

    out = []
    row = re.compile(r'\{\s*"(\w+)"\s*,\s*(V_\w+)\s*,\s*(true|false)\s*,\s*(true|false)\s*,\s*([\w-]+)\s*,'
                     r'\s*([\w-]+)\s*,\s*(\w+)\s*(?:,\s*(true|false)\s*)?\}')
    body = m.group(1)
    rows = row.findall(body)
    assert len(rows) == body.count('{"'), "%s: table %s: a row was not parsed" % (filename, table)
    for name, vt, req, nullable, lo, hi, values, ro in rows:
        out.append({"name": name, "type": vt, "required": req == "true", "nullable": nullable == "true",
                    "min": num(lo), "max": num(hi),
                    "values": None if values == "NULL" else arrays[values], "readonly": ro == "true"})
    return out


# Request schemas and the validation tables behind them.
BODY_TABLES = [
    # route name(s), file, table, schema for create, schema for patch
    (("porteur.create", "porteur.patch"), "api_porteurs.c", "porteur_fields", "PorteurCreate", "PorteurPatch"),
    (("offer.create", "offer.patch"), "api_offers.c", "offer_fields", "OfferCreate", "OfferPatch"),
    (("youth.create", "youth.patch"), "api_youth.c", "youth_fields", "YouthCreate", "YouthPatch"),
    (("placement.create",), "api_placements.c", "create_fields", "PlacementCreate", None),
    (("placement.refuse",), "api_placements.c", "refuse_fields", "PlacementRefuse", None),
    (("placement.enter",), "api_placements.c", "enter_fields", "PlacementEnter", None),
    (("placement.exit",), "api_placements.c", "exit_fields", "PlacementExit", None),
    (("placement.extend",), "api_placements.c", "extend_fields", "PlacementExtend", None),
    (("token.create",), "api_tokens.c", "token_fields", "TokenCreate", None),
    (("webhook.create",), "api_webhooks.c", "webhook_fields", "WebhookCreate", None),
    (("plan.create",), "api_plans.c", "plan_fields", "PlanCreate", None),
    (("account.create", "account.patch"), "api_accounts.c", "account_fields", "AccountCreate", "AccountPatch"),
    (("auth.password",), "api_signin.c", "login_fields", "PasswordSignIn", None),
    (("auth.link",), "api_signin.c", "link_fields", "LinkToken", None),
    (("auth.invitation",), "api_signin.c", "setpw_fields", "LinkPassword", None),
    (("auth.reset",), "api_signin.c", "setpw_fields", "LinkPassword", None),
    (("auth.reset_request",), "api_signin.c", "email_fields", "EmailOnly", None),
]
# Routes that take no body (or an empty object).
EMPTY_BODY_ROUTES = {"placement.accept", "placement.cancel", "webhook.retry", "notification.read"}
# Routes whose handler checks its body by hand (no vfield table): route -> schema.
CUSTOM_BODY_ROUTES = {"plan.apply": "PlanApply", "import.run": "ImportCsv",
                      "notification.preferences_set": "NotificationPreferencesSet"}

# Enums of the YAML and the C arrays they must equal: (pointer, file, array).
ENUMS = [
    ("#/components/schemas/Kind", "match.c", "match_kind_codes"),
    ("#/components/schemas/OfferStatus", "api_offers.c", "statuses"),
    ("#/components/schemas/OfferGender", "match.c", "match_offer_gender_codes"),
    ("#/components/schemas/SupportLevel", "match.c", "match_support_codes"),
    ("#/components/schemas/YouthGender", "match.c", "match_gender_codes"),
    ("#/components/schemas/Household", "match.c", "match_household_codes"),
    ("#/components/schemas/Need", "match.c", "match_need_codes"),
    ("#/components/schemas/Situation", "match.c", "match_situation_codes"),
    ("#/components/schemas/YouthStatus", "api_youth.c", "all_statuses"),
    ("#/components/schemas/PlacementStatus", "api_placements.c", "statuses"),
    # RefusalReason: the config's refusal_reasons, checked live (GET /v1/refusal-reasons)
    ("#/components/schemas/ExitDestination", "api_placements.c", "destinations"),
    ("#/components/schemas/Role", "api_tokens.c", "roles"),
    ("#/components/schemas/EventType", "api_webhooks.c", "event_types"),
    ("#/components/schemas/DeliveryStatus", "api_webhooks.c", "delivery_statuses"),
    ("#/components/schemas/MatchRule", "match.c", "rule_codes"),
    ("#/components/schemas/MatchFactor", "match.c", "factor_codes"),
]


# ---------------------------------------------------------------- static checks

DOC = None


def doc():
    global DOC
    if DOC is None:
        DOC = load_yaml(read(YAML_PATH))
    return DOC


def fail_if(problems, what):
    if problems:
        raise AssertionError("%s (%d):\n  %s" % (what, len(problems), "\n  ".join(problems)))


@test
def the_yaml_means_the_same_to_yaml_1_1_and_1_2_readers():
    y = load_yaml("a: 1\nb:\n  - x\n  - k: v\n    m: [1, 'two', {c: d}]\nc: |\n  line one\n  line two\n"
                  "d: >-\n  folded\n  text\ne: ''\nf: 'it''s'\ng:\n- 1\nh: '2026-01-01'\ni: true\n")
    assert y == {"a": 1, "b": ["x", {"k": "v", "m": [1, "two", {"c": "d"}]}], "c": "line one\nline two\n",
                 "d": "folded text", "e": "", "f": "it's", "g": [1], "h": "2026-01-01", "i": True}, y
    for bad, why in (("a: 1\na: 2\n", "duplicate"), ("on: 1\n", "quote"), ("a: yes\n", "boolean"),
                     ("a: Off\n", "boolean"), ("a: 2026-01-01\n", "date"), ("1: x\n", "key"),
                     ("a: &x 1\nb: *x\n", "indicator"), ("a: !!str 1\n", "indicator"),
                     ("a: 'open\n", "while scanning"), ("a: b: c\n", "mapping values")):
        try:
            load_yaml(bad)
        except YamlError as e:
            assert why in str(e), "%r: %s" % (bad, e)
        else:
            raise AssertionError("accepted %r" % bad)


@test
def the_validator_is_strict_and_checks_formats():
    d = {"components": {"schemas": {
        "A": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"},
                                                                   "d": {"type": "string", "format": "date"}}},
        "B": {"allOf": [{"$ref": "#/components/schemas/A"}], "properties": {"y": {"type": "string"}}},
        "L": {"type": "array", "items": {"$ref": "#/components/schemas/A"}},
        "N": {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]},
        "O": {"type": "object", "additionalProperties": {"type": "integer"}},
        "T": {"type": "string", "format": "date-time"},
    }}}
    v = Validator(d)
    ref = lambda n: {"$ref": "#/components/schemas/" + n}   # noqa: E731
    assert v.errors({"x": 1, "d": "2026-02-28"}, ref("A")) == []
    assert v.errors({"x": 1, "y": "z"}, ref("B")) == []          # allOf: both schemas' members
    assert v.errors(None, ref("N")) == [] and v.errors({"x": 1}, ref("N")) == []
    assert v.errors({"a": 1, "b": 2}, ref("O")) == []           # open: any member
    assert v.errors("2026-02-28T10:00:00Z", ref("T")) == []
    for inst, name, what in (({"x": 1, "z": 0}, "A", "not in the schema"), ({"x": 1, "z": 0}, "B", "not in the schema"),
                             ([{"x": 1, "z": 0}], "L", "not in the schema"), ({"x": 1, "z": 0}, "N", ""),
                             ({"x": "1"}, "A", "not of type"), ({}, "A", "required"),
                             ({"x": 1, "d": "2026-02-30"}, "A", "date"), ({"x": 1, "d": "20260228"}, "A", "date"),
                             ("2026-02-28 10:00", "T", "date-time"), ({"a": "1"}, "O", "not of type")):
        errs = v.errors(inst, ref(name))
        assert errs and what in " ".join(errs), (inst, name, errs)


@test
def the_document_is_openapi_3_1():
    d = doc()
    assert d.get("openapi") == "3.1.0", "openapi: %r" % d.get("openapi")
    for k in ("title", "version"):
        assert isinstance(d["info"].get(k), str), "info.%s" % k
    assert isinstance(d.get("paths"), dict) and d["paths"], "no paths"
    assert isinstance(d.get("webhooks"), dict) and d["webhooks"], "no webhooks"
    assert set(d) <= {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
                      "components", "security", "tags", "externalDocs"}, sorted(d)
    problems = []

    def refs(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    try:
                        resolve(d, v)
                    except KeyError:
                        problems.append("%s: $ref %r does not resolve" % (where, v))
                    if not str(v).startswith("#/components/"):
                        problems.append("%s: $ref %r is not under #/components" % (where, v))
                else:
                    refs(v, where + "/" + str(k))
        elif isinstance(node, list):
            for n, v in enumerate(node):
                refs(v, "%s/%d" % (where, n))

    refs(d, "#")
    fail_if(problems, "unresolved references")

    # schemas: known keywords only; required names a listed property
    def visit(s, where):
        unknown = set(s) - SCHEMA_KEYWORDS
        if unknown:
            problems.append("%s: unknown schema keyword(s) %s" % (where, sorted(unknown)))
        if "properties" in s and "required" in s:
            missing = set(s["required"]) - set(s["properties"])
            if missing:
                problems.append("%s: required %s not in properties" % (where, sorted(missing)))
        t = s.get("type")
        for x in (t if isinstance(t, list) else [t] if t else []):
            if x not in ("null", "boolean", "integer", "number", "string", "array", "object"):
                problems.append("%s: type %r" % (where, x))
        if "pattern" in s:
            try:
                re.compile(s["pattern"])
            except re.error as e:
                problems.append("%s: pattern %r: %s" % (where, s["pattern"], e))

    for where, s in all_schemas(d):
        walk_schema(s, where, visit)
        try:   # and a valid JSON Schema 2020-12, as jsonschema's metaschema says
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            problems.append("%s: not a valid JSON Schema: %s" % (where, e.message))
    fail_if(problems, "schema problems")

    # operations: ids, tags, responses, parameters
    tags = {t["name"] for t in d.get("tags", [])}
    schemes = set(d["components"].get("securitySchemes", {}))
    ids = {}
    for section in ("paths", "webhooks"):
        for path, item in d[section].items():
            for m in METHODS:
                op = item.get(m)
                if not op:
                    continue
                where = "%s %s" % (m.upper(), path)
                oid = op.get("operationId")
                if not oid:
                    problems.append(where + ": no operationId")
                elif oid in ids:
                    problems.append("%s: operationId %s also on %s" % (where, oid, ids[oid]))
                ids[oid] = where
                for t in op.get("tags") or []:
                    if t not in tags:
                        problems.append("%s: tag %r is not declared" % (where, t))
                if not op.get("tags"):
                    problems.append(where + ": no tags")
                if not op.get("summary"):
                    problems.append(where + ": no summary")
                if not op.get("responses"):
                    problems.append(where + ": no responses")
                for st, r in (op.get("responses") or {}).items():
                    if not re.match(r"^([1-5][0-9][0-9]|[1-5]XX|default)$", str(st)):
                        problems.append("%s: response key %r" % (where, st))
                    r = deref(d, r)
                    if not r.get("description"):
                        problems.append("%s %s: response without description" % (where, st))
                for sec in op.get("security") or []:
                    for name in sec:
                        if name not in schemes:
                            problems.append("%s: security scheme %r is not declared" % (where, name))
                params = op_parameters(d, item, op)
                in_path = {n for (n, loc) in params if loc == "path"}
                in_tpl = set(re.findall(r"\{([^}]+)\}", path))
                if section == "paths" and in_path != in_tpl:
                    problems.append("%s: path parameters %s, template %s" % (where, sorted(in_path), sorted(in_tpl)))
                for (n, loc), p in params.items():
                    if loc == "path" and p.get("required") is not True:
                        problems.append("%s: path parameter %s is not required: true" % (where, n))
                    if "schema" not in p:
                        problems.append("%s: parameter %s has no schema" % (where, n))
    fail_if(problems, "operation problems")


@test
def every_route_is_described_and_nothing_else():
    d = doc()
    routes = c_routes()
    yaml_ops = {}
    for path, m, op, _item in operations(d):
        yaml_ops[(m.upper(), path)] = op
    wild = [(meth, pat[:-1], roles, name) for meth, pat, roles, name in routes if pat.endswith("*")]
    problems = []

    def covered_by_wildcard(path):
        for _meth, prefix, _roles, _name in wild:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return True
        return False

    c_side = {}
    for meth, pat, roles, name in routes:
        if not pat.endswith("*"):
            key = (meth, norm_path(pat))
            assert key not in c_side, "routes.c lists %s %s twice" % key
            c_side[key] = (pat, roles, name)
    y_side = {}
    for (meth, path), op in yaml_ops.items():
        if not covered_by_wildcard(path):
            y_side[(meth, norm_path(path))] = (path, op)
    missing = sorted(set(c_side) - set(y_side))
    extra = sorted(set(y_side) - set(c_side))
    for meth, p in missing:
        problems.append("served by siaod but missing from openapi.yaml: %s %s (%s)" % (meth, c_side[(meth, p)][0], c_side[(meth, p)][2]))
    for meth, p in extra:
        problems.append("in openapi.yaml but not served by siaod: %s %s" % (meth, y_side[(meth, p)][0]))

    def check_op(where, op, roles, name):
        xr = op.get("x-roles")
        if not isinstance(xr, list) or set(xr) != roles or len(xr) != len(set(xr)):
            problems.append("%s: x-roles %r, routes.c says %s" % (where, xr, sorted(roles) or "[] (no token)"))
        if op.get("x-siaod-route") != name:
            problems.append("%s: x-siaod-route %r, routes.c says %r" % (where, op.get("x-siaod-route"), name))
        public = op.get("security") == []
        if public != (not roles):
            problems.append("%s: security %r but routes.c roles %s" % (where, op.get("security"), sorted(roles) or "0"))
        for r in roles:
            if r not in (op.get("description") or ""):
                problems.append("%s: the description does not name the role %s" % (where, r))

    for key in set(c_side) & set(y_side):
        pat, roles, name = c_side[key]
        check_op("%s %s" % (key[0], y_side[key][0]), y_side[key][1], roles, name)
    for meth, prefix, roles, name in wild:
        under = [(m, p) for (m, p) in yaml_ops if covered_by_wildcard(p)]
        if not any(m == meth for m, p in under):
            problems.append("served by siaod but missing from openapi.yaml: %s %s* (%s)" % (meth, prefix, name))
        for m, p in under:
            if m != meth:
                problems.append("in openapi.yaml but not served by siaod: %s %s (%s* takes %s only)" % (m, p, prefix, meth))
            else:
                check_op("%s %s" % (m, p), yaml_ops[(m, p)], roles, name)
    fail_if(problems, "routes.c and openapi.yaml differ")


@test
def the_error_contract_is_described_per_operation():
    d = doc()
    problems = []
    for path, m, op, item in operations(d):
        where = "%s %s" % (m.upper(), path)
        roles = set(op.get("x-roles") or [])
        resp = {str(k) for k in op.get("responses", {})}
        params = op_parameters(d, item, op)

        def need(status, why):
            if status not in resp:
                problems.append("%s: no %s response (%s)" % (where, status, why))

        if roles:
            need("401", "it needs a token")
            need("429", "each token is rate limited")
            need("503", "the token check needs the database")
            if roles != ALL_ROLES:
                need("403", "not every role may call it")
        if "{" in path and not path.startswith("/ui"):
            need("404", "it names a resource")
        if any(loc == "query" for (_n, loc) in params):
            need("400", "it reads query parameters")
        if "requestBody" in op:
            for s in ("400", "413", "415"):
                need(s, "it takes a body")
            for mt in op["requestBody"].get("content", {}):
                # a CSV file is the one other body (POST /v1/imports)
                if mt not in ("application/json", "application/merge-patch+json") and \
                        not (mt == "text/csv" and path == "/v1/imports"):
                    problems.append("%s: request media type %s" % (where, mt))
        if m == "post" and roles:
            if ("Idempotency-Key", "header") not in params:
                problems.append(where + ": no Idempotency-Key parameter")
            need("409", "Idempotency-Key in progress")
            need("422", "Idempotency-Key reused")
        if m == "patch":
            if ("If-Match", "header") not in params:
                problems.append(where + ": no If-Match parameter")
            need("412", "If-Match")
            ct = op.get("requestBody", {}).get("content", {})
            if "application/merge-patch+json" not in ct:
                problems.append(where + ": PATCH without application/merge-patch+json")
        for st, r in op.get("responses", {}).items():
            r = deref(d, r)
            if "X-Request-Id" not in (r.get("headers") or {}):
                problems.append("%s %s: no X-Request-Id header" % (where, st))
            if str(st)[0] in "45" or st == "default":
                # a page a person's browser lands on (the OpenID Connect routes,
                # x-html-pages: true) answers its errors as French HTML pages
                want = {"text/html"} if op.get("x-html-pages") is True else {"application/problem+json"}
                if set(r.get("content") or {}) != want:
                    problems.append("%s %s: an error is %s" % (where, st, " or ".join(sorted(want))))
            if str(st) in ("429", "503") and "Retry-After" not in (r.get("headers") or {}):
                problems.append("%s %s: no Retry-After" % (where, st))
            if str(st)[0] == "2":
                for mt, media in (r.get("content") or {}).items():
                    if mt != "application/json":
                        continue
                    s = deref(d, media.get("schema") or {})
                    props = s.get("properties") or {}
                    if "next_cursor" in props and "$ref" in props["next_cursor"]:
                        for pn in ("limit", "cursor"):
                            if (pn, "query") not in params:
                                problems.append("%s: a list without the %s parameter" % (where, pn))
        if op.get("requestBody") and m != "post" and m != "patch":
            problems.append("%s: a body on %s" % (where, m.upper()))
    # the shared parameters say what the contract says
    p = d["components"]["parameters"]
    assert p["Limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, p["Limit"]
    for name in ("X-Request-Id", "ETag", "Idempotent-Replayed", "Retry-After"):
        assert name in d["components"]["headers"], "no components/headers/" + name
    shared = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
              "405": "MethodNotAllowed", "409": "Conflict", "412": "PreconditionFailed",
              "413": "ContentTooLarge", "415": "UnsupportedMediaType", "422": "UnprocessableContent",
              "429": "TooManyRequests", "503": "ServiceUnavailable"}
    for st, name in shared.items():
        r = d["components"]["responses"].get(name)
        assert r is not None, "no components/responses/%s for %s" % (name, st)
        assert r["description"].lstrip("'").startswith(st), "%s: the description starts with %s" % (name, st)
        assert set(r["content"]) == {"application/problem+json"}, name
    assert "Allow" in d["components"]["responses"]["MethodNotAllowed"]["headers"]
    prob = d["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(prob["required"]), prob["required"]
    for member in ("errors", "current_status", "rules"):
        assert member in prob["properties"], "Problem lacks " + member
    err = d["components"]["schemas"]["ProblemError"]
    assert {"pointer", "code", "detail"} <= set(err["properties"]), err
    bearer = d["components"]["securitySchemes"]["bearerAuth"]
    assert bearer["type"] == "http" and bearer["scheme"] == "bearer", bearer
    assert d.get("security") == [{"bearerAuth": []}, {"cookieAuth": []}], d.get("security")
    cookie = d["components"]["securitySchemes"]["cookieAuth"]
    assert cookie["type"] == "apiKey" and cookie["in"] == "cookie" and cookie["name"] == "siaod_session", cookie
    fail_if(problems, "error contract")


def field_view(d, s):
    """(types, schema) of a request field: follows $ref and the nullable anyOf."""
    types = set()
    if "anyOf" in s:
        branches = [b for b in s["anyOf"] if b != {"type": "null"}]
        if len(branches) + 1 == len(s["anyOf"]):
            types.add("null")
        assert len(branches) == 1, "field schema %r" % s
        s = branches[0]
    ref = s.get("$ref")
    if ref:
        target = resolve(d, ref)
        merged = dict(target)
        merged.update({k: v for k, v in s.items() if k != "$ref"})
        merged["$ref"] = ref
        s = merged
    t = s.get("type")
    for x in (t if isinstance(t, list) else [t] if t else []):
        types.add(x)
    return types, s


@test
def request_schemas_follow_the_validation_tables():
    d = doc()
    schemas = d["components"]["schemas"]
    problems = []
    by_route = {}
    for path, m, op, _item in operations(d):
        by_route[op.get("x-siaod-route")] = (m.upper() + " " + path, op)

    def body_schema_ref(op):
        c = (op.get("requestBody") or {}).get("content", {})
        refs = {media.get("schema", {}).get("$ref") for media in c.values()}
        return refs.pop() if len(refs) == 1 else refs

    for routes, filename, table, create, patch in BODY_TABLES:
        fields = c_vfields(filename, table)
        for route, name, is_patch in ((routes[0], create, False), (routes[-1], patch, True)):
            if name is None:
                continue
            where, op = by_route[route]
            want = "#/components/schemas/" + name
            if body_schema_ref(op) != want:
                problems.append("%s: request body schema %r, expected %s" % (where, body_schema_ref(op), want))
            s = schemas[name]
            if s.get("additionalProperties") is not False:
                problems.append("%s: additionalProperties must be false (unknown_field)" % name)
            expect = [f for f in fields if not (is_patch and f["readonly"])]
            got = set(s.get("properties") or {})
            if got != {f["name"] for f in expect}:
                problems.append("%s: properties %s, %s:%s has %s" % (
                    name, sorted(got), filename, table, sorted(f["name"] for f in expect)))
            req = set(s.get("required") or [])
            want_req = set() if is_patch else {f["name"] for f in fields if f["required"]}
            if req != want_req:
                problems.append("%s: required %s, %s:%s says %s" % (name, sorted(req), filename, table, sorted(want_req)))
            for f in expect:
                p = (s.get("properties") or {}).get(f["name"])
                if p is None:
                    continue
                types, v = field_view(d, p)
                at = "%s.%s (%s)" % (name, f["name"], f["type"])
                if ("null" in types) != f["nullable"]:
                    problems.append("%s: nullable is %s in C" % (at, f["nullable"]))
                t = f["type"]
                ref = v.get("$ref")

                def eq(key, value, at=at, v=v):
                    if v.get(key) != value:
                        problems.append("%s: %s %r, C says %r" % (at, key, v.get(key), value))

                if t == "V_STRING":
                    if "string" not in types:
                        problems.append(at + ": not a string")
                    eq("maxLength", f["max"])
                    if f["min"] > 0:
                        eq("minLength", 1)
                    elif v.get("minLength", 0) != 0:
                        problems.append(at + ": minLength, C allows empty")
                elif t in ("V_INT", "V_NUMBER"):
                    if ("integer" if t == "V_INT" else "number") not in types:
                        problems.append(at + ": type %s" % sorted(types))
                    eq("minimum", f["min"])
                    if f["max"] == 2 ** 63 - 1:
                        if v.get("maximum", f["max"]) != f["max"]:
                            problems.append(at + ": maximum %r" % v.get("maximum"))
                    else:
                        eq("maximum", f["max"])
                elif t == "V_BOOL":
                    if "boolean" not in types:
                        problems.append(at + ": not a boolean")
                elif t == "V_DATE":
                    if ref != "#/components/schemas/Date":
                        problems.append(at + ": use $ref Date")
                elif t == "V_TIMESTAMP":
                    if v.get("format") != "date-time":
                        problems.append(at + ": format date-time")
                elif t == "V_ENUM":
                    if sorted(v.get("enum") or []) != sorted(f["values"]):
                        problems.append("%s: enum %r, C says %r" % (at, v.get("enum"), f["values"]))
                elif t == "V_DEPARTEMENT":
                    if ref != "#/components/schemas/Departement":
                        problems.append(at + ": use $ref Departement")
                elif t == "V_INSEE":
                    if ref != "#/components/schemas/InseeCode":
                        problems.append(at + ": use $ref InseeCode")
                elif t in ("V_ENUM_ARRAY", "V_DEPARTEMENTS"):
                    if "array" not in types:
                        problems.append(at + ": not an array")
                    eq("maxItems", f["max"])
                    eq("uniqueItems", True)
                    items_types, items = field_view(d, v.get("items") or {})
                    if t == "V_DEPARTEMENTS":
                        if items.get("$ref") != "#/components/schemas/Departement":
                            problems.append(at + ": items must be $ref Departement")
                    elif sorted(items.get("enum") or []) != sorted(f["values"]):
                        problems.append("%s: items enum %r, C says %r" % (at, items.get("enum"), f["values"]))
                else:
                    problems.append("%s: no rule for %s in this test" % (at, t))
    for route in EMPTY_BODY_ROUTES:
        where, op = by_route[route]
        if body_schema_ref(op) != "#/components/schemas/EmptyBody":
            problems.append(where + ": body schema must be EmptyBody")
        if op["requestBody"].get("required"):
            problems.append(where + ": the body is optional")
    for route, name in CUSTOM_BODY_ROUTES.items():
        where, op = by_route[route]
        if body_schema_ref(op) != "#/components/schemas/" + name:
            problems.append("%s: body schema must be %s" % (where, name))
    with_body = {r for routes, *_ in BODY_TABLES for r in routes} | EMPTY_BODY_ROUTES | set(CUSTOM_BODY_ROUTES)
    for route, (where, op) in by_route.items():
        if "requestBody" in op and route not in with_body:
            problems.append("%s: a request body, but no validation table is known for %s" % (where, route))
        if route in with_body and "requestBody" not in op:
            problems.append("%s: no request body" % where)
    fail_if(problems, "request schemas and validation tables differ")


@test
def enums_follow_the_c_code():
    d = doc()
    problems = []
    for pointer, filename, array in ENUMS:
        values = c_string_arrays(filename).get(array)
        assert values is not None, "%s: no array %s" % (filename, array)
        got = resolve(d, pointer).get("enum")
        if got != values:
            problems.append("%s: %r, %s:%s has %r" % (pointer, got, filename, array, values))
    audit = c_string_arrays("api_audit.c")["entities"]
    got = None
    for p in d["paths"]["/v1/audit"]["get"]["parameters"]:
        if p.get("name") == "entity":
            got = p["schema"]["enum"]
    if got != audit:
        problems.append("GET /v1/audit entity enum %r, api_audit.c has %r" % (got, audit))
    fail_if(problems, "enums differ")


@test
def every_event_is_under_webhooks_with_its_signature_headers():
    d = doc()
    types = c_string_arrays("api_webhooks.c")["event_types"]
    problems = []
    if sorted(d["webhooks"]) != sorted(types):
        problems.append("webhooks %s, api_webhooks.c accepts %s" % (sorted(d["webhooks"]), sorted(types)))
    for name, item in d["webhooks"].items():
        op = item.get("post")
        if not op:
            problems.append(name + ": no post operation")
            continue
        heads = {p["name"] for p in (deref(d, x) for x in op.get("parameters", [])) if p["in"] == "header"}
        for h in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            if h not in heads:
                problems.append("%s: no %s header" % (name, h))
        s = deref(d, op["requestBody"]["content"]["application/json"]["schema"])
        if set(s.get("required") or []) != {"type", "timestamp", "data"}:
            problems.append("%s: the body is {type, timestamp, data}" % name)
        if s["properties"]["type"].get("const") != name:
            problems.append("%s: type const %r" % (name, s["properties"]["type"].get("const")))
        if "2XX" not in op.get("responses", {}):
            problems.append(name + ": no 2XX response")
    fail_if(problems, "webhooks")


UI_I18N = os.path.join(SOURCE_DIR, "clients", "web", "js", "i18n.js")


def ui_catalogue(name):
    """The quoted keys of `export const <name> = {` ... `};` in i18n.js (the
    catalogue keeps one quoted key per line, for this reading)."""
    text = read(UI_I18N)
    m = re.search(r"^export const %s = \{\n(.*?)^\};" % re.escape(name), text, re.S | re.M)
    assert m, "i18n.js: no `export const %s = {` ... `};`" % name
    keys = re.findall(r"^  '([^']+)':", m.group(1), re.M)
    assert keys, "i18n.js: %s has no quoted key" % name
    return set(keys)


def problem_slugs_of_the_code():
    """Every problem slug daemon/ and sql/ can answer."""
    slugs = {}
    for root, _dirs, files in os.walk(DAEMON_DIR):
        for f in files:
            if f.endswith(".c"):
                for slug in re.findall(r'req_problem(?:_full)?\(\s*\w+,\s*[0-9]+,\s*"([a-z-]+)"',
                                       read(os.path.join(root, f))):
                    slugs.setdefault(slug, "daemon/" + f)
    for root, _dirs, files in os.walk(os.path.join(SOURCE_DIR, "sql")):
        for f in files:
            if f.endswith(".sql"):
                for slug in re.findall(r"siaod_fail\(\s*[0-9]+,\s*'([a-z-]+)'", read(os.path.join(root, f))):
                    slugs.setdefault(slug, os.path.relpath(os.path.join(root, f), SOURCE_DIR))
    return slugs


@test
def every_problem_the_code_answers_is_a_documented_type():
    types = {t[len("/problems/"):] for t in doc()["components"]["schemas"]["ProblemType"]["enum"]}
    code = problem_slugs_of_the_code()
    assert len(code) >= 20, "the scan found only %r" % code
    fail_if(["%s (in %s) is not in ProblemType" % (s, where) for s, where in sorted(code.items())
             if s not in types], "problem types the OpenAPI file does not list")


@test
def the_ui_catalogue_words_every_problem_and_code():
    """Every problem type and field error code of the OpenAPI file (read with
    python3-yaml) has its French entry in clients/web/js/i18n.js, and every
    error status a response documents has its French title."""
    d = load_yaml(read(YAML_PATH))
    slugs = {t[len("/problems/"):] for t in d["components"]["schemas"]["ProblemType"]["enum"]}
    # problems named with their status in a description: "422 `not-in-plan`"
    slugs |= set(re.findall(r"\b[45][0-9]{2} `([a-z]+(?:-[a-z]+)+)`", read(YAML_PATH)))
    codes = set(d["components"]["schemas"]["ErrorCode"]["enum"])
    statuses = set()
    for section in ("paths",):
        for path, item in d[section].items():
            for m in METHODS:
                for st in ((item.get(m) or {}).get("responses") or {}):
                    if re.match(r"^[45][0-9][0-9]$", str(st)):
                        statuses.add(str(st))
    problems = ui_catalogue("PROBLEMS")
    errors = ui_catalogue("ERROR_CODES")
    titles = ui_catalogue("STATUS_TITLES")
    missing = ["problem type %s" % s for s in sorted(slugs - problems)]
    missing += ["field error code %s" % c for c in sorted(codes - errors)]
    missing += ["title of HTTP status %s" % st for st in sorted(statuses - titles)]
    fail_if(missing, "not in the UI's French catalogue (clients/web/js/i18n.js)")
    # and nothing English slipped in (the API's detail sentences are English)
    text = read(UI_I18N)
    for name in ("PROBLEMS", "ERROR_CODES", "STATUS_TITLES"):
        block = re.search(r"^export const %s = \{\n(.*?)^\};" % name, text, re.S | re.M).group(1)
        for key, sentence in re.findall(r"^  '([^']+)': ['\"`](.*?)['\"`],?$", block, re.M):
            assert not re.search(r"\b(the|is|not|this|please|request|found|invalid|failed|again|many|with)\b",
                                 sentence, re.I), "%s[%s] reads as English: %r" % (name, key, sentence)


# ---------------------------------------------------------------- live checks

LIVE = bool(harness.BIN and harness.BASE_URL)
D = None
DB = None
V = None
OPS = []            # (method, regex, path template, operation, path item)
SEEN = {}           # operationId -> statuses seen
PROBLEMS = []       # problems found by calls made outside a test's own asserts


def skip_unless_live():
    if not LIVE:
        print("      (skipped: set SIAOD_BIN and SIAOD_TEST_DATABASE_URL for the live checks)")
        return True
    return False


def op_for(method, path):
    path = path.split("?")[0]
    if len(path) > 1 and path.endswith("/") and not path.startswith("/ui"):
        path = path[:-1]
    for m, rx, tpl, op, item in OPS:
        if m == method.lower() and rx.match(path):
            return tpl, op, item
    return None, None, None


def check_response(r, response, where):
    """The answer r against an OpenAPI response object; returns problems."""
    d = doc()
    response = deref(d, response)
    out = []
    replayed = r.headers.get("Idempotent-Replayed") == "true"
    for name, h in (response.get("headers") or {}).items():
        h = deref(d, h)
        value = r.headers.get(name)
        if value is None:
            if h.get("required"):
                out.append("%s: header %s is missing" % (where, name))
            elif name == "ETag" and not replayed:
                out.append("%s: no ETag" % where)
            continue
        schema = h.get("schema") or {}
        v = value
        if schema.get("type") == "integer" and re.match(r"^[0-9]+$", value):
            v = int(value)
        for e in V.errors(v, schema):
            out.append("%s: header %s: %s" % (where, name, e))
    content = response.get("content") or {}
    if content:
        ct = (r.headers.get("Content-Type") or "").split(";")[0].strip()
        media = content.get(ct) or content.get("*/*")
        if media is None:
            out.append("%s: Content-Type %r, documented %s" % (where, ct, sorted(content)))
        elif ct.endswith("json"):
            if r.json is None and r.data:
                out.append("%s: the body is not JSON: %r" % (where, r.text[:200]))
            else:
                for e in V.errors(r.json, media.get("schema") or {}):
                    out.append("%s: %s" % (where, e))
    return out


def call(method, path, token=None, body=None, headers=None, raw=None, status=None, daemon=None):
    """Calls the daemon and checks the answer against the operation's documentation."""
    r = (daemon or D).call(method, path, token, body, headers, raw)
    where = "%s %s -> %d" % (method, path, r.status)
    tpl, op, _item = op_for(method, path)
    problems = []
    if op is None:
        problems.append("%s: no operation in openapi.yaml" % where)
    else:
        SEEN.setdefault(op["operationId"], set()).add(r.status)
        csv_body = ((headers or {}).get("Content-Type") or "").startswith("text/csv")
        sent = body if body is not None else (
            (raw.decode("utf-8-sig") if csv_body else json.loads(raw)) if raw is not None and 200 <= r.status < 300 else None)
        if sent is not None and 200 <= r.status < 300:
            content = (op.get("requestBody") or {}).get("content") or {}
            ct = ((headers or {}).get("Content-Type") or "application/json").split(";")[0]
            media = content.get(ct)
            if media is None:
                problems.append("%s: request media type %s is not documented" % (where, ct))
            else:
                for e in V.errors(sent, media["schema"]):
                    problems.append("%s: the request body siaod accepted is invalid here: %s" % (where, e))
        resp = op["responses"].get(str(r.status)) or op["responses"].get("%dXX" % (r.status // 100))
        if resp is None:
            problems.append("%s: status %d is not documented for %s %s" % (where, r.status, method, tpl))
        else:
            problems += check_response(r, resp, where)
    if status is not None and r.status != status:
        problems.append("%s: expected %d: %s" % (where, status, r.text[:500]))
    if problems:
        raise AssertionError("\n  ".join(problems))
    return r


class Receiver:
    """A local webhook endpoint that keeps what it receives and answers 204."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        with self.lock:
            return list(self.got)


S = {}   # live state shared by the steps


def day(n):
    return (S["today"] + datetime.timedelta(days=n)).isoformat()


@test
def live_setup():
    global D, DB, V
    if skip_unless_live():
        return
    V = Validator(doc())
    for path, m, op, item in operations(doc()):
        rx = "^" + "".join("[^/]+" if part.startswith("{") else re.escape(part)
                           for part in re.split(r"(\{[^}]+\})", path)) + "$"
        OPS.append((m, re.compile(rx), path, op, item))
    ui = tempfile.mkdtemp(prefix="ui-", dir=harness.WORKDIR)
    with open(os.path.join(ui, "index.html"), "w") as f:
        f.write("<!doctype html><title>siaod</title>\n")
    with open(os.path.join(ui, "app.js"), "w") as f:
        f.write("console.log('siaod');\n")
    S["receiver"] = Receiver()
    DB = Database("openapi")
    D = Daemon(DB, env={"SIAOD_WEBHOOK_ALLOW_PRIVATE": "true", "SIAOD_WEBHOOK_RETRY_SCHEDULE": "1s",
                        "SIAOD_UI_DIR": ui})
    S["admin"] = D.token("admin", label="admin")


@test
def live_health_and_ui():
    if skip_unless_live():
        return
    call("GET", "/healthz", status=200)
    call("GET", "/readyz", status=200)
    r = call("GET", "/metrics", status=200)
    assert "siaod_build_info" in r.text, r.text[:300]
    call("GET", "/ui", status=301)
    call("GET", "/ui/", status=200)
    call("GET", "/ui/app.js", status=200)
    call("GET", "/ui/nothing.js", status=404)


@test
def live_porteurs_and_tokens():
    if skip_unless_live():
        return
    a = S["admin"]
    r = call("POST", "/v1/porteurs", a, {"name": "Porteur OpenAPI", "departement": "34"},
             headers={"Idempotency-Key": "porteur-1"}, status=201)
    again = call("POST", "/v1/porteurs", a, {"name": "Porteur OpenAPI", "departement": "34"},
                 headers={"Idempotency-Key": "porteur-1"}, status=201)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json == r.json, again
    call("POST", "/v1/porteurs", a, {"name": "Autre", "departement": "34"},
         headers={"Idempotency-Key": "porteur-1"}, status=422)
    S["porteur"] = pid = r.json["id"]
    call("GET", "/v1/porteurs?limit=1", a, status=200)
    call("GET", "/v1/porteurs/%d" % pid, a, status=200)
    call("PATCH", "/v1/porteurs/%d" % pid, a, {"target_youth": 40}, headers={"If-Match": '"1"'}, status=200)
    call("PATCH", "/v1/porteurs/%d" % pid, a, {"target_youth": 41}, headers={"If-Match": '"1"'}, status=412)
    S["pt"] = D.token("porteur", porteur=pid, label="pt")
    S["ref"] = D.token("referent", departements=("34",), label="ref")
    r = call("POST", "/v1/tokens", a, {"role": "referent", "label": "tmp", "departements": ["30", "31"]}, status=201)
    call("GET", "/v1/tokens", a, status=200)
    call("DELETE", "/v1/tokens/%d" % r.json["id"], a, status=200)
    call("POST", "/v1/tokens", a, {"role": "porteur"}, status=400)
    me = call("GET", "/v1/me", S["pt"], status=200)
    assert me.json["role"] == "porteur" and me.json["porteur_id"] == pid, me.json
    r = call("GET", "/v1/communes?q=sete&departement=34", S["ref"], status=200)
    assert r.json["items"][0]["insee"] == "34301", r.json
    call("GET", "/v1/communes?q=" + "x" * 81, S["ref"], status=400)


@test
def live_webhook_subscriptions():
    if skip_unless_live():
        return
    a = S["admin"]
    r = call("POST", "/v1/webhooks", a, {
        "url": "http://127.0.0.1:%d/hook" % S["receiver"].port, "label": "receiver",
        "event_types": sorted(resolve(doc(), "#/components/schemas/EventType")["enum"])}, status=201)
    S["hook"], S["secret"] = r.json["id"], r.json["secret"]
    r = call("POST", "/v1/webhooks", S["ref"], {
        "url": "http://127.0.0.1:%d/nobody" % free_port(), "event_types": ["placement.status_changed"]},
        status=201)
    S["dead_hook"] = r.json["id"]
    call("GET", "/v1/webhooks", S["ref"], status=200)


@test
def live_offers_and_youth():
    if skip_unless_live():
        return
    a, pt, ref = S["admin"], S["pt"], S["ref"]
    r = call("POST", "/v1/offers", a, {"porteur_id": S["porteur"], "kind": "iml", "label": "IML Montpellier",
                                       "commune_insee": "34172", "capacity": 5}, status=201)
    S["offer"] = r.json["id"]
    S["today"] = datetime.date.fromisoformat(r.json["free_places_on"])
    r = call("POST", "/v1/offers", pt, {"kind": "shared_flat", "label": "F4 Sète", "commune_insee": "34301",
                                        "capacity": 1, "gender": "male", "max_stay_days": 90}, status=201)
    S["male_offer"] = r.json["id"]
    # freshness, imports and the configured refusal reasons (issue 16)
    call("POST", "/v1/offers/%d/confirm" % S["male_offer"], pt, status=200)
    call("GET", "/v1/imports/template?kind=offers", pt, status=200)
    csv_text = ("Code offre;Type;Libellé;Commune;Capacité\r\nOA-1;alt;ALT Sète;Sète;2\r\n").encode()
    r = call("POST", "/v1/imports?kind=offers", pt, raw=csv_text, headers={"Content-Type": "text/csv"}, status=200)
    assert r.json["rows"][0]["outcome"] == "create", r.json
    r = call("GET", "/v1/imports/%d" % r.json["run_id"], pt, status=200)
    assert r.json["rows"][0]["outcome"] == "create", r.json
    r = call("GET", "/v1/imports?kind=offers&limit=5", pt, status=200)
    assert r.json["items"] and r.json["items"][0]["mode"] == "dry_run", r.json
    r = call("GET", "/v1/refusal-reasons", pt, status=200)
    assert sorted(x["code"] for x in r.json["reasons"]) == \
        sorted(doc()["components"]["schemas"]["RefusalReason"]["enum"]), r.json
    call("GET", "/v1/offers?departement=34&kind=iml&min_free=1&limit=10", ref, status=200)
    call("GET", "/v1/offers/%d?available_on=%s" % (S["offer"], day(3)), pt, status=200)
    call("PATCH", "/v1/offers/%d" % S["offer"], pt, headers={"Content-Type": "application/merge-patch+json"},
         raw=json.dumps({"label": "IML Montpellier centre"}).encode(), status=200)
    call("GET", "/v1/offers/%d/availability?from=%s&to=%s" % (S["offer"], day(0), day(10)), ref, status=200)
    born = S["today"].replace(year=S["today"].year - 20, day=min(S["today"].day, 28))
    S["youth"] = []
    for n in range(4):
        r = call("POST", "/v1/youth", ref, {
            "ref": "DOS-%d" % n, "departement": "34", "birth_date": born.isoformat(), "gender": "female",
            "situation": "street", "commune_insee": "34172", "needs": ["mental_health"]}, status=201)
        S["youth"].append(r.json["id"])
    call("GET", "/v1/youth?status=waiting", ref, status=200)
    call("GET", "/v1/youth/%d" % S["youth"][0], ref, status=200)
    call("PATCH", "/v1/youth/%d" % S["youth"][0], ref, {"wanted_months": 4, "max_distance_km": None}, status=200)
    call("GET", "/v1/youth/%d/matches?explain=1" % S["youth"][0], ref, status=200)
    call("GET", "/v1/youth/%d/matches?limit=3&on=%s" % (S["youth"][0], day(2)), a, status=200)
    call("GET", "/v1/offers/%d/candidates?limit=5" % S["offer"], pt, status=200)


@test
def live_placements_and_stays():
    if skip_unless_live():
        return
    a, pt, ref = S["admin"], S["pt"], S["ref"]
    y0, y1, y2, y3 = S["youth"]
    r = call("POST", "/v1/placements", ref, {"youth_id": y0, "offer_id": S["offer"], "start_date": day(0),
                                             "planned_end_date": day(20)}, status=201)
    p0 = S["p0"] = r.json["id"]
    call("POST", "/v1/placements/%d/accept" % p0, pt, status=200)
    call("POST", "/v1/placements/%d/enter" % p0, pt, {"date": day(0)}, status=200)
    call("GET", "/v1/stays?ending_within_days=30&departement=34", ref, status=200)
    call("POST", "/v1/placements/%d/extend" % p0, pt, {"planned_end_date": day(25)}, status=200)
    r = call("POST", "/v1/placements", ref, {"youth_id": y1, "offer_id": S["offer"], "start_date": day(1)}, status=201)
    call("POST", "/v1/placements/%d/refuse" % r.json["id"], pt, {"reason": "no_show"}, status=200)
    call("POST", "/v1/placements/%d/accept" % r.json["id"], pt, status=409)
    r = call("POST", "/v1/placements", ref, {"youth_id": y1, "offer_id": S["offer"], "start_date": day(1)}, status=201)
    call("POST", "/v1/placements/%d/cancel" % r.json["id"], ref, {}, status=200)
    # a porteur never proposes (403), the referent does
    call("POST", "/v1/placements", pt, {"youth_id": y2, "offer_id": S["offer"], "start_date": day(0)}, status=403)
    r = call("POST", "/v1/placements", ref, {"youth_id": y2, "offer_id": S["offer"], "start_date": day(0)}, status=201)
    S["p2"] = r.json["id"]
    call("POST", "/v1/placements/%d/accept" % S["p2"], pt, status=200)
    call("POST", "/v1/placements/%d/enter" % S["p2"], pt, status=200)
    call("POST", "/v1/placements/%d/exit" % S["p2"], pt, {"date": day(0), "destination": "street"}, status=200)
    r = call("POST", "/v1/placements", ref, {"youth_id": y3, "offer_id": S["offer"], "start_date": day(2)}, status=201)
    S["p3"] = r.json["id"]
    call("POST", "/v1/placements", ref, {"youth_id": y2, "offer_id": S["male_offer"], "start_date": day(0)},
         status=422)
    call("POST", "/v1/placements", ref, {"youth_id": y0, "offer_id": S["offer"], "start_date": day(0)}, status=409)
    call("GET", "/v1/placements?status=active&offer_id=%d" % S["offer"], pt, status=200)
    call("GET", "/v1/placements/%d" % p0, ref, status=200)


@test
def live_plans_and_reports():
    if skip_unless_live():
        return
    a, pt, ref = S["admin"], S["pt"], S["ref"]
    r = call("POST", "/v1/allocation-plans", ref, {"departement": "34", "on": day(1)}, status=201)
    plan = r.json
    assert plan["assignments"], "the plan assigns nobody: %r" % plan
    call("GET", "/v1/allocation-plans/%d" % plan["id"], ref, status=200)
    first = plan["assignments"][0]
    call("POST", "/v1/allocation-plans/%d/apply" % plan["id"], ref,
         {"pairs": [{"youth_id": first["youth_id"], "offer_id": first["offer_id"]},
                    {"youth_id": first["youth_id"], "offer_id": 999999}]}, status=422)
    r = call("POST", "/v1/allocation-plans/%d/apply" % plan["id"], ref,
             {"pairs": [{"youth_id": first["youth_id"], "offer_id": first["offer_id"]}]}, status=200)
    assert [x["status"] for x in r.json["results"]] == [201], r.json
    call("GET", "/v1/allocation-plans/%d" % plan["id"], a, status=200)
    call("POST", "/v1/allocation-plans", ref, {"departement": "31"}, status=403)
    call("POST", "/v1/allocation-plans/%d/apply" % plan["id"], ref, {"pairs": {}}, status=400)
    call("GET", "/v1/reports/indicators?departement=34&from=%s&to=%s" % (day(-30), day(30)), ref, status=200)
    r = call("GET", "/v1/reports/indicators", pt, headers={"Accept": "text/csv"}, status=200)
    assert r.text.startswith("\ufeffporteur_id;porteur;"), r.text[:100]
    r = call("GET", "/v1/reports/indicators", pt, status=200, headers={
        "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert r.data[:2] == b"PK", r.data[:20]
    call("GET", "/v1/reports/indicators?from=%s&to=%s" % (day(1), day(0)), a, status=400)


@test
def live_rate_limit():
    if skip_unless_live():
        return
    limited = Daemon(DB, name="limited", env={"SIAOD_RATE_LIMIT_PER_SECOND": "1", "SIAOD_RATE_LIMIT_BURST": "1"})
    try:
        statuses = [call("GET", "/v1/porteurs", S["admin"], daemon=limited).status for _ in range(3)]
        assert 429 in statuses, statuses
    finally:
        limited.stop()


@test
def live_errors():
    if skip_unless_live():
        return
    a, ref = S["admin"], S["ref"]
    call("GET", "/v1/offers", None, status=401)
    call("GET", "/v1/offers", "siaod_" + "0" * 40, status=401)
    call("POST", "/v1/porteurs", ref, {"name": "x", "departement": "34"}, status=403)
    call("GET", "/v1/offers/999999", a, status=404)
    call("POST", "/v1/porteurs", a, {"departement": "20", "extra": 1}, status=400)
    call("GET", "/v1/offers?limit=0", a, status=400)
    call("GET", "/v1/stays?cursor=abc", a, status=400)
    call("POST", "/v1/porteurs", a, headers={"Content-Type": "text/plain"}, raw=b"name=x", status=415)
    call("POST", "/v1/porteurs", a, raw=b"{" + b" " * (1 << 20) + b"}", status=413)
    call("POST", "/v1/porteurs", a, raw=b'{"name": "x",}', status=400)
    call("PATCH", "/v1/offers/%d" % S["offer"], a, {"capacity": 1}, status=409)
    # a method the path does not take, a path nobody serves
    problems = []
    for method, path, comp in (("PUT", "/v1/offers", "MethodNotAllowed"), ("GET", "/v2/nothing", "NotFound")):
        r = D.call(method, path, a)
        problems += check_response(r, doc()["components"]["responses"][comp], "%s %s -> %d" % (method, path, r.status))
        if comp == "MethodNotAllowed" and r.status != 405:
            problems.append("%s %s: %d, not 405" % (method, path, r.status))
    fail_if(problems, "answers outside the operations")


@test
def live_webhook_events_and_deliveries():
    if skip_unless_live():
        return
    a, pt = S["admin"], S["pt"]
    # stay.overdue and hold.expired need time to pass: move the dates in the
    # database, then restart (the scheduler expires holds and scans at start).
    DB.sql("UPDATE placements SET start_date = '%s', planned_end_date = '%s' WHERE id = %d"
           % (day(-40), day(-2), S["p0"]))
    DB.sql("UPDATE placements SET hold_until = '%s' WHERE id = %d" % (day(0), S["p3"]))
    # offer.reconfirm_due: an offer last confirmed 31 days ago (reconfirm_days 30)
    DB.sql("UPDATE offers SET confirmed_on = '%s' WHERE id = %d" % (day(-31), S["offer"]))
    D.restart()
    want = set(doc()["webhooks"])

    def arrived():
        got = {}
        for headers, body in S["receiver"].events():
            try:
                got.setdefault(json.loads(body)["type"], []).append((headers, body))
            except (ValueError, KeyError):
                got.setdefault("?", []).append((headers, body))
        return got if want <= set(got) else None

    got = eventually(arrived, timeout=30, interval=0.3, msg="one delivery of each event type")
    key = base64.b64decode(S["secret"][len("whsec_"):])
    problems = []
    for t, deliveries in sorted(got.items()):
        op = doc()["webhooks"].get(t)
        if op is None:
            problems.append("event %r is not described" % t)
            continue
        op = op["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        for headers, body in deliveries:
            where = "webhook %s" % t
            for p in (deref(doc(), x) for x in op["parameters"]):
                v = headers.get(p["name"])
                if v is None:
                    problems.append("%s: no %s header" % (where, p["name"]))
                    continue
                for e in V.errors(v, p["schema"]):
                    problems.append("%s: header %s: %s" % (where, p["name"], e))
            if (headers.get("content-type") or "").split(";")[0] != "application/json":
                problems.append("%s: Content-Type %r" % (where, headers.get("content-type")))
            msg = ("%s.%s." % (headers.get("webhook-id"), headers.get("webhook-timestamp"))).encode() + body
            sig = "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
            if sig not in (headers.get("webhook-signature") or "").split(" "):
                problems.append("%s: the signature does not verify" % where)
            for e in V.errors(json.loads(body), schema):
                problems.append("%s: %s" % (where, e))
    fail_if(problems, "webhook deliveries")
    # the delivery log, and a retry of a failed delivery
    call("GET", "/v1/webhooks/%d/deliveries?limit=20" % S["hook"], a, status=200)
    ok = call("GET", "/v1/webhooks/%d/deliveries?status=succeeded" % S["hook"], a, status=200).json["items"]
    call("POST", "/v1/webhooks/%d/deliveries/%d/retry" % (S["hook"], ok[0]["id"]), a, status=409)

    def failed():
        r = call("GET", "/v1/webhooks/%d/deliveries?status=failed" % S["dead_hook"], S["ref"], status=200)
        return r.json["items"]

    dead = eventually(failed, timeout=20, interval=0.5, msg="a failed delivery to a closed port")
    call("POST", "/v1/webhooks/%d/deliveries/%d/retry" % (S["dead_hook"], dead[0]["id"]), S["ref"], status=200)
    call("DELETE", "/v1/webhooks/%d" % S["dead_hook"], S["ref"], status=200)
    call("GET", "/v1/stays", pt, status=200)


@test
def live_erasure_closing_and_audit():
    if skip_unless_live():
        return
    a, pt, ref = S["admin"], S["pt"], S["ref"]
    call("DELETE", "/v1/youth/%d" % S["youth"][1], ref, status=200)
    call("GET", "/v1/youth/%d" % S["youth"][1], ref, status=404)
    call("DELETE", "/v1/offers/%d" % S["male_offer"], pt, status=200)
    call("GET", "/v1/audit?limit=50&entity=placement&from=%s" % day(-1), a, status=200)
    call("GET", "/v1/audit?to=%sT23:59:59Z" % day(1), a, status=200)


@test
def live_accounts_sessions_and_sign_in():
    """People: an invitation, its link, a password, sessions by cookie."""
    if skip_unless_live():
        return
    import accounts_helpers as H
    a = S["admin"]
    call("GET", "/auth/config", status=200)
    inv = call("POST", "/v1/accounts", a, {"email": "openapi@example.org", "role": "referent",
                                           "departements": ["34"], "display_name": "Doc"}, status=201).json
    tok = H.link_token(inv["invitation_url"])
    call("POST", "/auth/link", body={"token": tok}, status=200)
    r = call("POST", "/auth/invitation", body={"token": tok, "password": "Un-long-chemin-vers-Sete"}, status=200)
    harness.SECRETS.add("Un-long-chemin-vers-Sete")
    s = H.Session(D, H.cookie_of(r), r.json["csrf_token"])
    r = call("POST", "/auth/password", body={"email": "openapi@example.org", "password": "Un-long-chemin-vers-Sete"},
             status=200)
    other = H.Session(D, H.cookie_of(r), r.json["csrf_token"])
    call("GET", "/v1/me", headers=s.headers(origin=False), status=200)
    items = call("GET", "/v1/me/sessions", headers=s.headers(origin=False), status=200).json["items"]
    mine = [i["id"] for i in items if not i["current"]]
    call("DELETE", "/v1/me/sessions/%d" % mine[0], headers=s.headers(origin=False), status=200)
    call("DELETE", "/v1/me/sessions", headers=s.headers(origin=False), status=200)
    r = call("POST", "/auth/password", body={"email": "openapi@example.org", "password": "Un-long-chemin-vers-Sete"},
             status=200)
    s = H.Session(D, H.cookie_of(r), r.json["csrf_token"])
    call("POST", "/auth/logout", headers=s.headers(origin=False), status=200)
    call("POST", "/auth/reset-request", body={"email": "openapi@example.org"}, status=409)   # no mail here
    call("POST", "/auth/reset", body={"token": tok, "password": "Un-long-chemin-vers-Agde"}, status=404)
    # with outgoing mail (a real SMTP server), the reset by the mailed link
    from smtp_server import SmtpServer, parts
    smtp = SmtpServer()
    try:
        m = Daemon(DB, env={"SIAOD_SMTP_URL": smtp.url, "SIAOD_SMTP_FROM": "siaod@example.org"}, name="mail")
        call("POST", "/auth/reset-request", body={"email": "openapi@example.org"}, status=202, daemon=m)
        text, _html = parts(smtp.wait_for("openapi@example.org")[-1])
        rtok = re.search(r"#reinitialisation=([A-Za-z0-9_-]{43})", text).group(1)
        harness.SECRETS.add(rtok)
        r = call("POST", "/auth/reset", body={"token": rtok, "password": "Un-long-chemin-vers-Agde"}, status=200,
                 daemon=m)
        H.cookie_of(r)
        harness.SECRETS.add("Un-long-chemin-vers-Agde")
        m.stop()
    finally:
        smtp.stop()
    acc = inv["id"]
    call("GET", "/v1/accounts", a, status=200)
    call("GET", "/v1/accounts/%d" % acc, a, status=200)
    call("PATCH", "/v1/accounts/%d" % acc, a, {"display_name": "Doc 2"}, status=200)
    again = call("POST", "/v1/accounts/%d/invitation" % acc, a, status=201).json
    H.link_token(again["invitation_url"])
    call("POST", "/v1/accounts/%d/disable" % acc, a, status=200)
    call("POST", "/v1/accounts/%d/enable" % acc, a, status=200)
    call("GET", "/v1/audit?account=%d" % acc, a, status=200)
    assert other.cookie


@test
def live_oidc_sign_in():
    """OpenID Connect: the button, the provider (tests/oidc/provider.mjs), the callback."""
    if skip_unless_live():
        return
    import urllib.parse
    import accounts_helpers as H
    from oidc_helpers import Browser, Provider, query_of
    call("GET", "/auth/oidc/start", status=404)          # not configured on D
    call("GET", "/auth/oidc/callback?state=x", status=404)
    call("POST", "/v1/accounts", S["admin"], {"email": "oidc.openapi@example.org", "role": "admin"}, status=201)
    m = Daemon(DB, env=H.daemon_env(), name="oidc", start=False)
    url = "http://127.0.0.1:%d" % m.port
    p = Provider(url)
    try:
        m.extra_env.update(H.public_env(m.port))
        m.extra_env.update(p.env())
        m.start()
        assert m.wait_log(r"event=oidc_keys_loaded", timeout=15), m.log_tail()
        r = call("GET", "/auth/oidc/start", status=302, daemon=m)
        state = query_of(r.headers["Location"])["state"]
        back = Browser().through_provider(r.headers["Location"], url, "oidc.openapi@example.org")
        path = back[len(url):]
        harness.SECRETS.update([state, query_of(back)["code"]])
        call("GET", path, status=400, daemon=m)            # not this browser: no siaod_oidc cookie
        r = call("GET", path, headers={"Cookie": "siaod_oidc=" + state}, status=302, daemon=m)
        H.cookie_of(r)
        call("GET", path, headers={"Cookie": "siaod_oidc=" + state}, status=400, daemon=m)   # used
        r = call("GET", "/auth/oidc/start", status=302, daemon=m)
        state = query_of(r.headers["Location"])["state"]
        call("GET", "/auth/oidc/callback?error=access_denied&state=" + urllib.parse.quote(state),
             headers={"Cookie": "siaod_oidc=" + state}, status=302, daemon=m)
        m.stop()
    finally:
        p.stop()


@test
def live_notifications():
    """A person's notification centre, preferences and the one-click unsubscribe."""
    if skip_unless_live():
        return
    import accounts_helpers as H
    r = call("POST", "/auth/password", body={"email": "openapi@example.org", "password": "Un-long-chemin-vers-Agde"},
             status=200)
    s = H.Session(D, H.cookie_of(r), r.json["csrf_token"])
    acc = r.json["account_id"]
    h = s.headers(origin=False)
    prefs = call("GET", "/v1/me/notification-preferences", headers=h, status=200).json
    assert {i["kind"]: i["mode"] for i in prefs["items"]}["stay_ending"] == "immediate", prefs
    call("POST", "/v1/me/notification-preferences", body={"items": [{"kind": "proposal_new", "mode": "off"}]},
         headers=h, status=200)
    call("POST", "/v1/me/notification-preferences", body={"items": [{"kind": "nope", "mode": "off"}]},
         headers=h, status=400)
    # a token of no account has no notifications
    call("GET", "/v1/notifications", S["admin"], status=404)
    # one notification of this person (the shape is what is checked here;
    # who hears what is test_notifications.py's)
    nid = int(DB.sql("INSERT INTO notifications (account_id, kind, event, dedup_key, data, delivery) "
                     "VALUES (%d, 'proposal_new', 'placement.status_changed', 'openapi', '{}', 'off') "
                     "RETURNING id" % acc)[0])
    lst = call("GET", "/v1/notifications?limit=5", headers=h, status=200).json
    assert lst["unread"] == 1 and lst["items"][0]["id"] == nid, lst
    call("GET", "/v1/notifications?unread=true", headers=h, status=200)
    call("GET", "/v1/notifications?unread=maybe", headers=h, status=400)
    call("POST", "/v1/notifications/%d/read" % nid, headers=h, status=200)
    call("POST", "/v1/notifications/%d/read" % (nid + 1000), headers=h, status=404)
    # the unsubscribe link: an HMAC-SHA256 of "siaod-unsubscribe:<account>.<kind>"
    key = bytes.fromhex(DB.sql("SELECT encode(secret, 'hex') FROM notification_secret")[0])
    mac = base64.urlsafe_b64encode(hmac.new(key, ("siaod-unsubscribe:%d.stay_ending" % acc).encode(),
                                            hashlib.sha256).digest()).decode().rstrip("=")
    token = "%d.stay_ending.%s" % (acc, mac)
    call("GET", "/unsubscribe?token=" + token, status=200)
    call("POST", "/unsubscribe?token=" + token, status=200)
    call("POST", "/unsubscribe?token=" + token[:-2] + "AA", status=404)
    prefs = call("GET", "/v1/me/notification-preferences", headers=h, status=200).json
    assert {i["kind"]: i["mode"] for i in prefs["items"]}["stay_ending"] == "off", prefs


@test
def live_every_operation_was_answered_with_success():
    if skip_unless_live():
        return
    missing = []
    for path, m, op, _item in operations(doc()):
        seen = SEEN.get(op["operationId"], set())
        if not any(200 <= s < 400 for s in seen):
            missing.append("%s %s (%s): seen %s" % (m.upper(), path, op["operationId"], sorted(seen) or "never"))
    fail_if(missing, "operations never exercised with a 2xx/3xx")


if __name__ == "__main__":
    run_all()
