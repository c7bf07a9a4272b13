"""Text the database cannot store is refused at the API's door, with the field that carries it.

PostgreSQL text cannot hold the NUL character (psycopg refuses the query with a ValueError),
and no database driver can encode a lone UTF-16 surrogate (JSON allows ``"\\ud800"``). Both
reached the services as ordinary strings and failed there with a 500, on one database or on
both; SQLite stored the NUL. Checked once here, for the query string, the path and the JSON
body of every request to /api/, they are a 422 in the API's error shape on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it contains a lone surrogate, e.g. \\ud800)"
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, problem) for each string (or object key) in a JSON value that we refuse."""
    if isinstance(value, str):
        problem = _problem(value)
        if problem:
            yield path, problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            problem = _problem(str(key))
            if problem:
                yield name, f"field name {problem}"
            yield from _walk(item, name)


def problems(request: HttpRequest) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    path_problem = _problem(request.path)
    if path_problem:
        found.append((None, f"the URL path {path_problem}"))
    for key, values in request.GET.lists():
        for value in [key, *values]:
            problem = _problem(value)
            if problem:
                found.append((key if _problem(key) is None else None, problem))
                break
    if request.content_type == "application/json" and request.body:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return found  # not JSON: the API says so (400)
        found.extend(_walk(body, ""))
    return found


class ApiTextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            found = problems(request)
            if found:
                field, problem = found[0]
                return JsonResponse(
                    {
                        "error": "validation_failed",
                        "message": f"{field}: {problem}" if field else problem,
                        "field": field,
                        "details": [
                            {"field": f, "message": p, "code": "invalid_text"} for f, p in found
                        ],
                    },
                    status=422,
                )
        return self.get_response(request)
