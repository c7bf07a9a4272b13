"""Set-based tests on the stored event JSON, for the query parameters no index table serves.

Extension fields (``EQ_example:myField``), ILMD, sensor data and persistentDisposition live only
in ``Event.document``. Django's key transforms reach a fixed path, but these parameters need
"any item of this array" and "at any depth", so ``JsonMatch`` compiles to one ``EXISTS``:

- SQLite: ``json_each`` / ``json_tree`` over the document. Every path is taken from the original
  column (``fullkey``), so a scalar array item is never re-parsed as JSON (which would raise).
- PostgreSQL: ``jsonb_path_query`` with a lax SQL/JSON path, the test applied to each item.

A path is a tuple of steps: a key name, ``*`` (each array item), ``**`` (the element and every
object nested in it, at any depth) or ``ext`` (the values of namespaced members, i.e. extension
fields). The condition is checked on each element the path reaches; ``Test.key`` names a member
of that element (``None``: the element itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F
from django.db.models.sql.compiler import SQLCompiler

__all__ = ["All", "AnyOf", "Condition", "JsonMatch", "Test"]

_SQL_OPS = {"=": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_JSONPATH_OPS = {"=": "==", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
# PostgreSQL's SQL/JSON datetime() reads RFC 3339 with at most six fractional digits and no
# "Z"; EPCIS allows both, so the text is normalised first. datetime() errors (a day 30 of
# February) are silenced by the `silent` argument, so a bad value never fails the query.
_PG_FRACTION = (r"(\.\d{1,6})\d+", r"\1")
_PG_ZULU = ("Z$", "+00:00")


@dataclass(frozen=True)
class Test:
    """One comparison on an element.

    ``op``: ``exists``; ``str`` (equals one of ``values``); ``num`` / ``time`` (``cmp`` the
    single value); ``bool`` (equals ``values[0]``).
    """

    key: str | None
    op: str
    cmp: str = "="
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


Condition = Test | All | AnyOf


class JsonMatch(Expression):
    """True when some element reached by ``steps`` in the JSON ``column`` meets ``condition``."""

    conditional = True

    def __init__(self, column: str, steps: tuple[str, ...], condition: Condition) -> None:
        super().__init__(output_field=BooleanField())
        self.source: Any = F(column)
        self.steps = steps
        self.condition = condition

    def __repr__(self) -> str:
        return f"JsonMatch({self.source!r}, {self.steps!r}, {self.condition!r})"

    def get_source_expressions(self) -> list[Any]:
        return [self.source]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.source,) = exprs

    def as_sql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        raise NotSupportedError(
            f"JSON event queries support SQLite and PostgreSQL, not {connection.vendor}"
        )

    # -- SQLite ------------------------------------------------------------------------------

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, compiled = compiler.compile(self.source)
        # (base, path): the JSON text the steps walk, and the path of the current element in it.
        base, base_params = column, list(compiled)
        path, path_params = "%s", ["$"]
        froms: list[str] = []
        params: list[Any] = []
        wheres: list[str] = []
        where_params: list[Any] = []
        for n, step in enumerate(self.steps):
            alias = f"_mj{n}"
            at = [*base_params, *path_params]
            if step == "**":
                # json_tree() given a path argument reports wrong array indexes in fullkey
                # (SQLite 3.40), so it walks the extracted subtree, whose paths are its own.
                subtree = (
                    f"(CASE WHEN json_type({base}, {path}) IN ('object', 'array') "
                    f"THEN json_extract({base}, {path}) ELSE '[]' END)"
                )
                froms.append(f"json_tree({subtree}) AS {alias}")
                params += [*at, *at]
                wheres.append(f"{alias}.type = 'object'")
                base, base_params = subtree, [*at, *at]
            elif step in ("*", "ext"):
                froms.append(f"json_each({base}, {path}) AS {alias}")
                params += at
                if step == "*":
                    wheres.append(f"json_type({base}, {path}) = 'array'")
                    where_params += at
                else:
                    wheres.append(f"instr({alias}.key, ':') > 0")
            else:
                path, path_params = f"({path} || %s)", [*path_params, _sqlite_key(step)]
                continue
            path, path_params = f"{alias}.fullkey", []
        cond, cond_params = _sqlite_condition(self.condition, base, base_params, path, path_params)
        if not froms:
            return f"({cond})", cond_params
        where = " AND ".join([*wheres, f"({cond})"])
        sql = f"EXISTS (SELECT 1 FROM {', '.join(froms)} WHERE {where})"
        return sql, [*params, *where_params, *cond_params]

    # -- PostgreSQL --------------------------------------------------------------------------

    def as_postgresql(
        self, compiler: SQLCompiler, connection: Any, **extra: Any
    ) -> tuple[str, list]:
        doc, compiled = compiler.compile(self.source)
        doc_params = list(compiled)
        if not self.steps:
            cond, cond_params = _pg_condition(self.condition, doc)
            return f"({cond})", [*doc_params, *cond_params]
        jsonpath = "$" + "".join(_jsonpath_step(step) for step in self.steps)
        cond, cond_params = _pg_condition(self.condition, "_mj.v")
        sql = f"EXISTS (SELECT 1 FROM jsonb_path_query({doc}, %s::jsonpath) AS _mj(v) WHERE {cond})"
        return sql, [*doc_params, jsonpath, *cond_params]


def _sqlite_key(key: str) -> str:
    # The parameter parser refuses names with '"', which SQLite's path syntax cannot quote.
    return f'."{key}"'


def _jsonpath_step(step: str) -> str:
    if step == "*":
        return "[*]"
    if step == "**":
        return '.** ? (@.type() == "object")'
    if step == "ext":
        return '.keyvalue() ? (@.key like_regex ":").value'
    return '."' + step.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sqlite_condition(
    condition: Condition, doc: str, doc_params: list[Any], path: str, path_params: list[Any]
) -> tuple[str, list[Any]]:
    if isinstance(condition, All | AnyOf):
        joiner = " AND " if isinstance(condition, All) else " OR "
        parts = [
            _sqlite_condition(item, doc, doc_params, path, path_params) for item in condition.items
        ]
        return joiner.join(f"({sql})" for sql, _ in parts), [p for _, ps in parts for p in ps]
    test = condition
    if test.key is None:
        leaf, leaf_params = path, path_params
    else:
        leaf, leaf_params = f"({path} || %s)", [*path_params, _sqlite_key(test.key)]
    kind = f"json_type({doc}, {leaf})"
    value = f"json_extract({doc}, {leaf})"
    at = [*doc_params, *leaf_params]
    if test.op == "exists":
        return f"{kind} IS NOT NULL", at
    if test.op == "str":
        marks = ", ".join(["%s"] * len(test.values))
        return f"{kind} = 'text' AND {value} IN ({marks})", [*at, *at, *test.values]
    if test.op == "num":
        return (
            f"{kind} IN ('integer', 'real') AND {value} {_SQL_OPS[test.cmp]} %s",
            # SQLite's Decimal adapter writes text, and text never equals a number there.
            [*at, *at, float(test.values[0])],
        )
    if test.op == "time":
        return (
            f"{kind} = 'text' AND julianday({value}) {_SQL_OPS[test.cmp]} julianday(%s)",
            [*at, *at, _iso(test.values[0])],
        )
    if test.op == "bool":
        return f"{kind} = %s", [*at, "true" if test.values[0] else "false"]
    raise ValueError(f"unknown JSON test {test.op!r}")


def _pg_condition(condition: Condition, element: str) -> tuple[str, list[Any]]:
    if isinstance(condition, All | AnyOf):
        joiner = " AND " if isinstance(condition, All) else " OR "
        parts = [_pg_condition(item, element) for item in condition.items]
        return joiner.join(f"({sql})" for sql, _ in parts), [p for _, ps in parts for p in ps]
    test = condition
    if test.key is None:
        x, x_params = element, []
    else:
        x, x_params = f"({element} -> %s::text)", [test.key]
    if test.op == "exists":
        return f"{x} IS NOT NULL", x_params
    if test.op == "str":
        marks = ", ".join(["%s::text"] * len(test.values))
        return (
            f"jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') IN ({marks})",
            [*x_params, *x_params, *test.values],
        )
    if test.op == "num":
        return (
            f"CASE WHEN jsonb_typeof({x}) = 'number' "
            f"THEN ({x} #>> '{{}}')::numeric {_SQL_OPS[test.cmp]} %s::numeric ELSE FALSE END",
            [*x_params, *x_params, Decimal(str(test.values[0]))],
        )
    if test.op == "time":
        text = f"regexp_replace(regexp_replace({x} #>> '{{}}', %s, %s), %s, %s)"
        check = f"$[*] ? (@.datetime() {_JSONPATH_OPS[test.cmp]} $t.datetime())"
        return (
            f"jsonb_typeof({x}) = 'string' AND jsonb_path_exists(jsonb_build_array({text}), "
            f"%s::jsonpath, jsonb_build_object('t', %s::text), true)",
            [*x_params, *x_params, *_PG_FRACTION, *_PG_ZULU, check, _iso(test.values[0])],
        )
    if test.op == "bool":
        return f"{x} = %s::jsonb", [*x_params, "true" if test.values[0] else "false"]
    raise ValueError(f"unknown JSON test {test.op!r}")


def _iso(value: datetime) -> str:
    return value.isoformat()
