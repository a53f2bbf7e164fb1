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


# ---------------------------------------------------------------- a small YAML reader

class YamlError(ValueError):
    pass


# Plain scalars that YAML 1.1 readers (PyYAML, many tools) turn into booleans:
# quote them, so that every reader sees the same document.
YAML11_BOOLS = {"y", "yes", "n", "no", "on", "off"}
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+)([eE][-+]?[0-9]+)?$")


def _plain(text, lineno, is_key=False):
    """Resolves a plain scalar (YAML 1.2 core schema)."""
    if text == "":
        return None
    if text[0] in "`@%&*!|>" or text.startswith("- ") or text in ("-", "?") or text.startswith("? "):
        raise YamlError("line %d: quote %r (it starts with a YAML indicator)" % (lineno, text))
    if ": " in text or text.endswith(":"):
        raise YamlError("line %d: quote %r (': ' inside a plain scalar)" % (lineno, text))
    if " #" in text:
        raise YamlError("line %d: internal error, comment left in %r" % (lineno, text))
    low = text.lower()
    if low in YAML11_BOOLS:
        raise YamlError("line %d: quote %r (a boolean to YAML 1.1 readers)" % (lineno, text))
    if is_key:
        if low in ("true", "false", "null", "~") or _INT.match(text) or _FLOAT.match(text):
            raise YamlError("line %d: quote the key %r (it is not a string to YAML)" % (lineno, text))
        return text
    if text in ("null", "Null", "NULL", "~"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    return text


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\"}


def _quoted(s, pos, lineno):
    """A quoted scalar starting at s[pos]; returns (value, position after it)."""
    q = s[pos]
    out = []
    i = pos + 1
    while i < len(s):
        c = s[i]
        if q == "'" and c == "'":
            if i + 1 < len(s) and s[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        if q == '"' and c == '"':
            return "".join(out), i + 1
        if q == '"' and c == "\\":
            e = s[i + 1:i + 2]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            n = {"x": 2, "u": 4, "U": 8}.get(e)
            if n and re.match(r"^[0-9A-Fa-f]{%d}$" % n, s[i + 2:i + 2 + n]):
                out.append(chr(int(s[i + 2:i + 2 + n], 16)))
                i += 2 + n
                continue
            raise YamlError("line %d: bad escape \\%s" % (lineno, e))
        out.append(c)
        i += 1
    raise YamlError("line %d: unterminated quoted scalar (multi-line scalars are not in the subset)" % lineno)


def _rest_is_empty(s, pos, lineno):
    rest = s[pos:]
    if rest.strip() == "":
        return
    if rest[0] in " \t" and rest.lstrip().startswith("#"):
        return
    raise YamlError("line %d: unexpected text %r" % (lineno, rest))


def _flow(s, pos, lineno):
    """A flow collection ([...] or {...}) at s[pos]; returns (value, position after it)."""
    close = "]" if s[pos] == "[" else "}"
    is_map = s[pos] == "{"
    out = {} if is_map else []
    i = pos + 1

    def skip(i):
        while i < len(s) and s[i] == " ":
            i += 1
        return i

    def value(i, stops):
        i = skip(i)
        if i >= len(s):
            raise YamlError("line %d: unterminated flow collection" % lineno)
        if s[i] in "[{":
            return _flow(s, i, lineno)
        if s[i] in "'\"":
            return _quoted(s, i, lineno)
        j = i
        while j < len(s) and s[j] not in stops:
            if s[j] == "#" and s[j - 1] == " ":
                raise YamlError("line %d: comment inside a flow collection" % lineno)
            j += 1
        return _plain(s[i:j].strip(), lineno, is_key=(stops == ":" + close)), j

    i = skip(i)
    if i < len(s) and s[i] == close:
        return out, i + 1
    while True:
        if is_map:
            key, i = value(i, ":" + close)
            i = skip(i)
            if i >= len(s) or s[i] != ":":
                raise YamlError("line %d: expected ':' in a flow mapping" % lineno)
            v, i = value(i + 1, "," + close)
            if key in out:
                raise YamlError("line %d: duplicate key %r" % (lineno, key))
            out[key] = v
        else:
            v, i = value(i, "," + close)
            out.append(v)
        i = skip(i)
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        if i < len(s) and s[i] == close:
            return out, i + 1
        raise YamlError("line %d: expected ',' or %r in a flow collection" % (lineno, close))


class YamlReader:
    """Block mappings and sequences, scalars, short flow collections, | and >
    block scalars. Indentation steps of exactly `step` spaces; tabs refused."""

    def __init__(self, text, step=2):
        self.lines = text.split("\n")
        self.step = step
        self.pos = 0
        for n, line in enumerate(self.lines, 1):
            lead = line[:len(line) - len(line.lstrip(" \t"))]
            if "\t" in lead:
                raise YamlError("line %d: tab in indentation" % n)
            if line.rstrip() != line and line.strip():
                raise YamlError("line %d: trailing whitespace" % n)

    def load(self):
        i = self._next()
        if i is None:
            return None
        ind, _ = self._at(i)
        if ind != 0:
            raise YamlError("line %d: the document must start at column 0" % (i + 1))
        v = self._node(0)
        j = self._next()
        if j is not None:
            raise YamlError("line %d: unexpected line (indentation?)" % (j + 1))
        return v

    def _at(self, i):
        line = self.lines[i]
        content = line.lstrip(" ")
        return len(line) - len(content), content

    def _next(self):
        """Index of the next line with content (not blank, not a comment) from pos."""
        i = self.pos
        while i < len(self.lines):
            s = self.lines[i].strip()
            if s and not s.startswith("#"):
                return i
            i += 1
        return None

    @staticmethod
    def _is_dash(content):
        return content == "-" or content.startswith("- ")

    def _node(self, indent):
        i = self._next()
        _, content = self._at(i)
        return self._seq(indent) if self._is_dash(content) else self._map(indent)

    def _split_key(self, content, lineno):
        if content[0] in "'\"":
            key, j = _quoted(content, 0, lineno)
            if content[j:j + 1] != ":" or (content[j + 1:j + 2] not in ("", " ")):
                raise YamlError("line %d: expected ': ' after the key" % lineno)
            return key, content[j + 1:]
        m = re.search(r":( |$)", content)
        if not m:
            raise YamlError("line %d: expected 'key: value', got %r" % (lineno, content))
        return _plain(content[:m.start()].rstrip(), lineno, is_key=True), content[m.start() + 1:]

    @staticmethod
    def _looks_like_entry(s):
        if s[:1] in ("'", '"'):
            try:
                _, j = _quoted(s, 0, 0)
            except YamlError:
                return False
            return s[j:j + 1] == ":" and s[j + 1:j + 2] in ("", " ")
        return bool(re.match(r"^[^\s#'\"\[\]{},][^#]*?:( |$)", s)) and not s.startswith("- ")

    def _inline(self, text, lineno, parent_indent):
        """The value after 'key:' or '- ' on line lineno (pos already past it)."""
        s = text.strip()
        if s == "" or s.startswith("#"):
            return ("empty", None)
        if s[0] in "|>":
            m = re.match(r"^([|>])([-+]?)\s*(#.*)?$", s)
            if not m:
                raise YamlError("line %d: bad block scalar header %r" % (lineno, s))
            return ("value", self._block(m.group(1), m.group(2), parent_indent, lineno))
        if s[0] in "[{":
            v, j = _flow(s, 0, lineno)
            _rest_is_empty(s, j, lineno)
            return ("value", v)
        if s[0] in "'\"":
            v, j = _quoted(s, 0, lineno)
            _rest_is_empty(s, j, lineno)
            return ("value", v)
        cut = re.search(r"\s#", s)
        if cut:
            s = s[:cut.start()].rstrip()
        return ("value", _plain(s, lineno))

    def _block(self, style, chomp, parent_indent, lineno):
        body = []
        block_indent = None
        i = self.pos
        while i < len(self.lines):
            line = self.lines[i]
            if line.strip() == "":
                body.append("")
                i += 1
                continue
            ind = len(line) - len(line.lstrip(" "))
            if block_indent is None:
                if ind != parent_indent + self.step:
                    raise YamlError("line %d: a block scalar is indented by %d more than its key"
                                    % (i + 1, self.step))
                block_indent = ind
            if ind < block_indent:
                break
            body.append(line[block_indent:])
            i += 1
        self.pos = i
        while body and body[-1] == "":
            body.pop()
        if style == "|":
            text = "\n".join(body)
        else:
            text = ""
            for line in body:
                if line == "":
                    text += "\n"
                    continue
                if text and not text.endswith("\n"):
                    text += " "
                text += line
        if chomp == "-":
            return text
        return text + "\n" if text else text

    def _map(self, indent):
        out = {}
        while True:
            i = self._next()
            if i is None:
                return out
            ind, content = self._at(i)
            if ind < indent:
                return out
            if ind > indent:
                raise YamlError("line %d: unexpected indentation" % (i + 1))
            if self._is_dash(content):
                raise YamlError("line %d: a sequence item where a key was expected" % (i + 1))
            key, rest = self._split_key(content, i + 1)
            if key in out:
                raise YamlError("line %d: duplicate key %r" % (i + 1, key))
            self.pos = i + 1
            kind, v = self._inline(rest, i + 1, indent)
            if kind == "empty":
                j = self._next()
                if j is not None and self._at(j)[0] > indent:
                    if self._at(j)[0] != indent + self.step:
                        raise YamlError("line %d: indent by %d spaces" % (j + 1, self.step))
                    v = self._node(indent + self.step)
                elif j is not None and self._at(j)[0] == indent and self._is_dash(self._at(j)[1]):
                    v = self._seq(indent)
            out[key] = v

    def _seq(self, indent):
        out = []
        while True:
            i = self._next()
            if i is None:
                return out
            ind, content = self._at(i)
            if ind < indent or (ind == indent and not self._is_dash(content)):
                return out
            if ind > indent:
                raise YamlError("line %d: unexpected indentation" % (i + 1))
            rest = content[1:]
            if rest.strip() == "":
                self.pos = i + 1
                j = self._next()
                if j is not None and self._at(j)[0] > indent:
                    out.append(self._node(self._at(j)[0]))
                else:
                    out.append(None)
                continue
            item = rest.lstrip(" ")
            col = indent + 1 + len(rest) - len(item)
            if col != indent + self.step:
                raise YamlError("line %d: one space after '-'" % (i + 1))
            if self._is_dash(item):
                raise YamlError("line %d: nested '- -' is not in the subset" % (i + 1))
            if self._looks_like_entry(item):
                self.lines[i] = " " * col + item
                out.append(self._map(col))
            else:
                self.pos = i + 1
                kind, v = self._inline(item, i + 1, indent)
                out.append(v)


def load_yaml(text):
    return YamlReader(text).load()


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


# ---------------------------------------------------------------- a small JSON Schema validator

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")


def _type_ok(v, t):
    return {
        "null": v is None,
        "boolean": isinstance(v, bool),
        "integer": isinstance(v, int) and not isinstance(v, bool),
        "number": isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": isinstance(v, str),
        "array": isinstance(v, list),
        "object": isinstance(v, dict),
    }[t]


class Validator:
    """The JSON Schema keywords of SCHEMA_KEYWORDS. strict: an object member that
    no `properties` of the schema (with its $ref and allOf) names is an error,
    unless the schema says additionalProperties."""

    def __init__(self, doc):
        self.doc = doc

    def errors(self, inst, schema, strict=True):
        out = []
        self._v(inst, schema, "$", strict, out)
        return out

    def _known(self, s, depth=0):
        """Member names the schema documents, or None when it leaves them open."""
        if not isinstance(s, dict) or depth > 20:
            return None
        if "additionalProperties" in s:
            return None
        names = set(s.get("properties") or {})
        found = "properties" in s
        if "$ref" in s:
            sub = self._known(resolve(self.doc, s["$ref"]), depth + 1)
            if sub is None and self._open(resolve(self.doc, s["$ref"])):
                return None
            if sub is not None:
                names |= sub
                found = True
        for b in s.get("allOf") or []:
            sub = self._known(b, depth + 1)
            if sub is None and self._open(b):
                return None
            if sub is not None:
                names |= sub
                found = True
        return names if found else None

    def _open(self, s):
        return isinstance(s, dict) and "additionalProperties" in s

    def _v(self, v, s, where, strict, out):
        if s is True or s == {}:
            return
        if s is False:
            out.append("%s: no value is allowed here" % where)
            return
        if strict and isinstance(v, dict):
            known = self._known(s)
            if known is not None:
                for k in sorted(set(v) - known):
                    out.append("%s: member %r is not in the schema" % (where, k))
        if "$ref" in s:
            self._v(v, resolve(self.doc, s["$ref"]), where, False, out)
        t = s.get("type")
        if t is not None:
            ts = t if isinstance(t, list) else [t]
            if not any(_type_ok(v, x) for x in ts):
                out.append("%s: %r is not of type %s" % (where, v, "/".join(ts)))
                return
        if "enum" in s and v not in s["enum"]:
            out.append("%s: %r is not one of %r" % (where, v, s["enum"]))
        if "const" in s and (v != s["const"] or type(v) is not type(s["const"])):
            out.append("%s: %r is not %r" % (where, v, s["const"]))
        if isinstance(v, str):
            if "minLength" in s and len(v) < s["minLength"]:
                out.append("%s: shorter than %d" % (where, s["minLength"]))
            if "maxLength" in s and len(v) > s["maxLength"]:
                out.append("%s: longer than %d" % (where, s["maxLength"]))
            if "pattern" in s and not re.search(s["pattern"], v):
                out.append("%s: %r does not match %s" % (where, v, s["pattern"]))
            fmt = s.get("format")
            if fmt == "date":
                try:
                    ok = bool(_DATE.match(v)) and datetime.date.fromisoformat(v) is not None
                except ValueError:
                    ok = False
                if not ok:
                    out.append("%s: %r is not a date" % (where, v))
            elif fmt == "date-time" and not _DATETIME.match(v):
                out.append("%s: %r is not an RFC 3339 date-time" % (where, v))
        if _type_ok(v, "number"):
            if "minimum" in s and v < s["minimum"]:
                out.append("%s: %r below %r" % (where, v, s["minimum"]))
            if "maximum" in s and v > s["maximum"]:
                out.append("%s: %r above %r" % (where, v, s["maximum"]))
        if isinstance(v, list):
            if "minItems" in s and len(v) < s["minItems"]:
                out.append("%s: fewer than %d items" % (where, s["minItems"]))
            if "maxItems" in s and len(v) > s["maxItems"]:
                out.append("%s: more than %d items" % (where, s["maxItems"]))
            if s.get("uniqueItems") and len({json.dumps(x, sort_keys=True) for x in v}) != len(v):
                out.append("%s: items are not unique" % where)
            if "items" in s:
                for n, x in enumerate(v):
                    self._v(x, s["items"], "%s[%d]" % (where, n), True, out)
        if isinstance(v, dict):
            for k in s.get("required") or []:
                if k not in v:
                    out.append("%s: member %r is missing" % (where, k))
            props = s.get("properties") or {}
            for k, x in v.items():
                if k in props:
                    self._v(x, props[k], "%s.%s" % (where, k), True, out)
                elif isinstance(s.get("additionalProperties"), (dict, bool)):
                    self._v(x, s["additionalProperties"], "%s.%s" % (where, k), True, out)
            if "propertyNames" in s:
                for k in v:
                    self._v(k, s["propertyNames"], "%s{%s}" % (where, k), True, out)
            for k, needs in (s.get("dependentRequired") or {}).items():
                if k in v:
                    for n in needs:
                        if n not in v:
                            out.append("%s: %r needs %r" % (where, k, n))
        for b in s.get("allOf") or []:
            self._v(v, b, where, False, out)
        if "anyOf" in s:
            if not any(not self.errors_at(v, b, where, strict) for b in s["anyOf"]):
                out.append("%s: matches none of anyOf (%s)" % (where, "; ".join(
                    self.errors_at(v, s["anyOf"][0], where, strict)[:2])))
        if "oneOf" in s:
            n = sum(1 for b in s["oneOf"] if not self.errors_at(v, b, where, strict))
            if n != 1:
                out.append("%s: matches %d of oneOf, not exactly one" % (where, n))
        if "not" in s and not self.errors_at(v, s["not"], where, False):
            out.append("%s: matches a schema it must not" % where)
        if "if" in s:
            branch = "then" if not self.errors_at(v, s["if"], where, False) else "else"
            if branch in s:
                self._v(v, s[branch], where, False, out)

    def errors_at(self, v, s, where, strict):
        out = []
        self._v(v, s, where, strict, out)
        return out


# ---------------------------------------------------------------- the C side

def c_routes():
    """[(method, pattern, roles set, name)] of daemon/routes.c, in table order."""
    text = read(os.path.join(DAEMON_DIR, "routes.c"))
    m = re.search(r"const struct route routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, "routes.c: the routes[] table was not found"
    body = m.group(1)
    rows = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*([^,]+?)\s*,\s*"([^"]+)"\s*\}', body)
    lines = [l for l in body.splitlines() if l.strip().startswith('{"')]
    assert len(rows) == len(lines), "routes.c: %d rows but %d parsed; update the regex" % (len(lines), len(rows))
    out = []
    for method, pattern, _handler, roles, name in rows:
        rs = set() if roles.strip() == "0" else {ROLE_LETTERS[x.strip()] for x in roles.split("|")}
        out.append((method, pattern, rs, name))
    return out


def c_string_arrays(filename):
    """NAME -> [strings] for every `const char *const NAME[] = {...}` of a daemon file."""
    text = read(os.path.join(DAEMON_DIR, filename))
    out = {}
    for m in re.finditer(r"const\s+char\s*\*\s*const\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\};", text, re.S):
        out[m.group(1)] = re.findall(r'"([^"]*)"', m.group(2))
    return out


def c_constants():
    consts = {"INT64_MAX": 2 ** 63 - 1}
    for f in ("auth.h", "config.h", "validate.h"):
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
]
# Routes that take no body (or an empty object).
EMPTY_BODY_ROUTES = {"placement.accept", "placement.cancel", "webhook.retry"}
# Routes whose handler checks its body by hand (no vfield table): route -> schema.
CUSTOM_BODY_ROUTES = {"plan.apply": "PlanApply"}

# Enums of the YAML and the C arrays they must equal: (pointer, file, array).
ENUMS = [
    ("#/components/schemas/Kind", "api.c", "api_kinds"),
    ("#/components/schemas/Kind", "match.c", "kind_codes"),
    ("#/components/schemas/OfferStatus", "api_offers.c", "statuses"),
    ("#/components/schemas/OfferGender", "match.c", "offer_gender_codes"),
    ("#/components/schemas/SupportLevel", "match.c", "support_codes"),
    ("#/components/schemas/YouthGender", "match.c", "gender_codes"),
    ("#/components/schemas/Household", "match.c", "household_codes"),
    ("#/components/schemas/Need", "match.c", "need_codes"),
    ("#/components/schemas/Situation", "match.c", "situation_codes"),
    ("#/components/schemas/YouthStatus", "api_youth.c", "all_statuses"),
    ("#/components/schemas/PlacementStatus", "api_placements.c", "statuses"),
    ("#/components/schemas/RefusalReason", "api_placements.c", "reasons"),
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
def the_yaml_reader_reads_its_subset():
    y = load_yaml("a: 1\nb:\n  - x\n  - k: v\n    m: [1, 'two', {c: d}]\nc: |\n  line one\n  line two\n"
                  "d: >-\n  folded\n  text\ne: ''\nf: 'it''s'\ng:\n- 1\n")
    assert y == {"a": 1, "b": ["x", {"k": "v", "m": [1, "two", {"c": "d"}]}],
                 "c": "line one\nline two\n", "d": "folded text", "e": "", "f": "it's", "g": [1]}, y
    for bad, why in (("a: 1\na: 2\n", "duplicate"), ("a:\n   b: 1\n", "indent"), ("on: 1\n", "quote"),
                     ("a: yes\n", "boolean"), ("a: b: c\n", "': '"), ("a:\n\tb: 1\n", "tab"),
                     ("a: &x 1\n", "indicator"), ("a: 'open\n", "unterminated")):
        try:
            load_yaml(bad)
        except YamlError as e:
            assert why in str(e), "%r: %s" % (bad, e)
        else:
            raise AssertionError("accepted %r" % bad)


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
                if mt not in ("application/json", "application/merge-patch+json"):
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
                if set(r.get("content") or {}) != {"application/problem+json"}:
                    problems.append("%s %s: an error is application/problem+json" % (where, st))
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
    assert d.get("security") == [{"bearerAuth": []}], d.get("security")
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
        for e in Validator(d).errors(v, schema):
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
        sent = body if body is not None else (json.loads(raw) if raw is not None and 200 <= r.status < 300 else None)
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
    r = call("POST", "/v1/placements", pt, {"youth_id": y2, "offer_id": S["offer"], "start_date": day(0)}, status=201)
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
