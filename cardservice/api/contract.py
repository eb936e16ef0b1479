"""Breaking changes between two OpenAPI documents of the same API version.

Breaking, for a route under the version's prefix: a removed path or method, a removed or retyped
response field (or one that may now be absent), a new required parameter or request field, a
removed request field when unknown fields are refused, a request field that accepts less. Adding
routes, optional fields, response fields and error codes is not breaking. A route that moves to a
new version (``/v2/...``) is compared with nothing."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class _Doc:
    def __init__(self, doc: Schema) -> None:
        self.doc = doc

    def resolve(self, schema: Schema | None) -> Schema:
        seen = 0
        while schema and "$ref" in schema and seen < 32:
            node: Any = self.doc
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema, seen = node, seen + 1
        return schema or {}

    def variants(self, schema: Schema | None) -> list[Schema]:
        """The alternatives of a schema (anyOf/oneOf flattened, refs resolved)."""
        schema = self.resolve(schema)
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives:
            return [v for alt in alternatives for v in self.variants(alt)]
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.variants(schema["allOf"][0])
        return [schema]

    def kinds(self, schema: Schema | None) -> set[str]:
        out: set[str] = set()
        for variant in self.variants(schema):
            kind = variant.get("type")
            if kind is None and "const" in variant:
                kind = type(variant["const"]).__name__
            if isinstance(kind, list):
                out.update(kind)
            else:
                out.add(kind or "any")
        return out

    def member(self, schema: Schema | None, kind: str) -> Schema | None:
        return next((v for v in self.variants(schema) if v.get("type") == kind), None)


def _kinds_cover(outer: set[str], inner: set[str]) -> bool:
    return "any" in outer or inner <= outer or (inner <= {"integer"} and "number" in outer)


def _response(old: _Doc, new: _Doc, a: Schema | None, b: Schema | None, where: str) -> list[str]:
    """A client built on ``a`` still understands ``b``."""
    ka, kb = old.kinds(a), new.kinds(b)
    if not _kinds_cover(ka, kb):
        return [f"{where}: retyped from {sorted(ka)} to {sorted(kb)}"]
    out: list[str] = []
    oa, ob = old.member(a, "object"), new.member(b, "object")
    if oa and ob:
        props_b, req_b = ob.get("properties", {}), set(ob.get("required", []))
        for name, sub in oa.get("properties", {}).items():
            if name not in props_b:
                out.append(f"{where}.{name}: removed")
                continue
            if name in oa.get("required", []) and name not in req_b:
                out.append(f"{where}.{name}: may now be absent")
            out += _response(old, new, sub, props_b[name], f"{where}.{name}")
    aa, ab = old.member(a, "array"), new.member(b, "array")
    if aa and ab:
        out += _response(old, new, aa.get("items"), ab.get("items"), f"{where}[]")
    return out


def _request(old: _Doc, new: _Doc, a: Schema | None, b: Schema | None, where: str) -> list[str]:
    """A request valid under ``a`` is still valid under ``b``."""
    ka, kb = old.kinds(a), new.kinds(b)
    if not _kinds_cover(kb, ka):
        return [f"{where}: accepts {sorted(kb)} instead of {sorted(ka)}"]
    out: list[str] = []
    oa, ob = old.member(a, "object"), new.member(b, "object")
    if oa and ob:
        props_a, req_a = oa.get("properties", {}), set(oa.get("required", []))
        props_b = ob.get("properties", {})
        for name in ob.get("required", []):
            if name not in req_a:
                out.append(f"{where}.{name}: new required field")
        for name, sub in props_a.items():
            if name not in props_b:
                if ob.get("additionalProperties") is False:
                    out.append(f"{where}.{name}: removed (unknown fields are refused)")
                continue
            out += _request(old, new, sub, props_b[name], f"{where}.{name}")
    aa, ab = old.member(a, "array"), new.member(b, "array")
    if aa and ab:
        out += _request(old, new, aa.get("items"), ab.get("items"), f"{where}[]")
    return out


def _json_schema(doc: _Doc, holder: Schema | None) -> Schema | None:
    content = doc.resolve(holder).get("content", {})
    return content.get("application/json", {}).get("schema")


def _parameters(old: _Doc, new: _Doc, a: Schema, b: Schema, where: str) -> list[str]:
    def by_key(doc: _Doc, op: Schema) -> dict[tuple[str, str], Schema]:
        params = [doc.resolve(p) for p in op.get("parameters", [])]
        return {(p["in"], p["name"]): p for p in params}

    pa, pb = by_key(old, a), by_key(new, b)
    out = []
    for key, param in pb.items():
        was = pa.get(key)
        if param.get("required") and not (was and was.get("required")):
            out.append(f"{where} {key[0]} parameter {key[1]!r}: new required parameter")
        if was:
            out += _request(old, new, was.get("schema"), param.get("schema"),
                            f"{where} {key[0]} parameter {key[1]!r}")
    return out


def _operation(old: _Doc, new: _Doc, a: Schema, b: Schema, where: str) -> list[str]:
    out = _parameters(old, new, a, b, where)
    body_a, body_b = a.get("requestBody"), b.get("requestBody")
    if body_b is not None:
        if new.resolve(body_b).get("required") and not (body_a and old.resolve(body_a).get("required")):
            out.append(f"{where}: the request body is now required")
        out += _request(old, new, _json_schema(old, body_a), _json_schema(new, body_b),
                        f"{where} body")
    for status, response in a.get("responses", {}).items():
        if not (status.isdigit() and 200 <= int(status) < 300):
            continue
        if status not in b.get("responses", {}):
            out.append(f"{where}: no longer answers {status}")
            continue
        out += _response(old, new, _json_schema(old, response),
                         _json_schema(new, b["responses"][status]), f"{where} {status}")
    return out


def breaking_changes(released: Schema, current: Schema, prefix: str = "/v1/") -> list[str]:
    """Every breaking change from ``released`` to ``current`` under ``prefix``, as text."""
    old, new = _Doc(released), _Doc(current)
    out: list[str] = []
    for path, item in released.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for method in METHODS:
            if method not in item:
                continue
            where = f"{method.upper()} {path}"
            now = current.get("paths", {}).get(path, {}).get(method)
            if now is None:
                out.append(f"{where}: removed")
                continue
            out += _operation(old, new, item[method], now, where)
    return out
