"""The subset of Google's list filter syntax (AIP-160) that Vertex documents for job lists.

``field op value`` comparisons joined by ``AND`` / ``OR`` (``AND`` binds tighter), negated by
``NOT`` or ``-``, grouped by parentheses. Fields: ``state``, ``display_name``,
``model_display_name``, ``create_time``, ``update_time`` (RFC 3339 values) and
``labels.<key>``; ops ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` and ``:`` (has: a trailing
``*`` matches a prefix, ``labels.k:*`` means the key exists). Values may be quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.fakes.vertex_wire import GoogleError, parse_rfc3339

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|<=|>=|!=|[()=<>:]|[^\s()=<>:!"]+)')
_OPS = {"=", "!=", "<", "<=", ">", ">=", ":"}
FIELDS = {
    "state": "state",
    "display_name": "displayName",
    "displayName": "displayName",
    "model_display_name": "modelDisplayName",
    "tuned_model_display_name": "tunedModelDisplayName",
    "create_time": "createTime",
    "createTime": "createTime",
    "update_time": "updateTime",
    "updateTime": "updateTime",
}


def _invalid(text: str, why: str) -> GoogleError:
    return GoogleError("INVALID_ARGUMENT", f"Invalid filter {text!r}: {why}.")


def compile_filter(text: str) -> Predicate:
    """A predicate over a job's wire JSON; a 400 GoogleError for a filter it cannot read."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _invalid(text, f"unexpected character at {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    parser = _Parser(tokens, text)
    pred = parser.expr()
    if parser.i != len(tokens):
        raise _invalid(text, f"unexpected {tokens[parser.i]!r}")
    return pred


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens, self.text, self.i = tokens, text, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _invalid(self.text, "it ends too early")
        self.i += 1
        return tok

    def expr(self) -> Predicate:
        terms = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            terms.append(self.conjunction())
        return lambda job: any(t(job) for t in terms)

    def conjunction(self) -> Predicate:
        terms = [self.unary()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
            terms.append(self.unary())
        return lambda job: all(t(job) for t in terms)

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok.startswith("-") and len(tok) > 1:
            self.tokens[self.i] = tok[1:]  # "-field=..." is NOT field=...
            inner = self.unary()
            return lambda job: not inner(job)
        if tok in ("NOT", "-"):
            self.take()
            inner = self.unary()
            return lambda job: not inner(job)
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            if self.take() != ")":
                raise _invalid(self.text, "a parenthesis is not closed")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        name, op, raw = self.take(), self.take(), self.take()
        if op not in _OPS:
            raise _invalid(self.text, f"{op!r} is not an operator")
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        if name.startswith("labels."):
            key = name[7:]
            if op == ":":
                return lambda job: (
                    key in (job.get("labels") or {})
                    and (value == "*" or (job.get("labels") or {}).get(key) == value)
                )
            if op not in ("=", "!="):
                raise _invalid(self.text, "labels take =, != or :")
            want = op == "="
            return lambda job: ((job.get("labels") or {}).get(key) == value) is want
        field = FIELDS.get(name)
        if field is None:
            raise _invalid(self.text, f"field {name!r} is not supported")
        if field in ("createTime", "updateTime"):
            return _time_cmp(field, op, value, self.text)
        return _text_cmp(field, op, value, self.text)


def _text_cmp(field: str, op: str, value: str, text: str) -> Predicate:
    if op == ":":
        prefix = value[:-1] if value.endswith("*") else None
        if prefix is not None:
            return lambda job: str(job.get(field, "")).startswith(prefix)
        return lambda job: value in str(job.get(field, ""))
    if op == "=":
        return lambda job: job.get(field, "") == value
    if op == "!=":
        return lambda job: job.get(field, "") != value
    raise _invalid(text, f"{field} takes =, != or :")


def _time_cmp(field: str, op: str, value: str, text: str) -> Predicate:
    when = parse_rfc3339(value)
    if when is None or op == ":":
        raise _invalid(text, f"{value!r} is not an RFC 3339 time")
    compare: dict[str, Callable[[float, float], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    fn = compare[op]
    return lambda job: fn(parse_rfc3339(str(job.get(field, ""))) or 0.0, when)
