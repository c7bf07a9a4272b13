"""The OpenAPI document of /api/v1/: one name per schema, and the error responses declared.

**Schema names.** ninja turns each model into JSON Schema on its own and files the nested
models under ``components/schemas`` by class name, so two different classes of one name (the
maintenance plan's ``PlanOut`` and the inspection plan's ``PlanOut``) overwrote each other and
half the operations documented the other one's fields. The same happened to one model whose
input and output schemas differ (a ``Decimal`` is a number or a string going in, a string
coming out). Here the document is made twice: the first pass names every component by its
module, class and mode, which cannot collide, and shows which short names would; the second
pass gives those the shortest name that tells them apart (``ServicePlanOut``,
``QualityPlanOut``, ``ReceiptIn``/``ReceiptInOutput``) and keeps the class name for the rest.

**Errors.** The API's exception handlers (medtrace.api) answer any operation with the one error
shape; ``declare_error_responses`` documents those statuses on every operation.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ninja.openapi.schema import REF_TEMPLATE, OpenAPISchema, flatten_properties
from ninja.schema import NinjaGenerateJsonSchema
from pydantic.json_schema import CoreModeRef, DefsRef, JsonSchemaMode

if TYPE_CHECKING:
    from ninja import NinjaAPI
    from ninja.params.models import TModel

ERROR_RESPONSES: dict[int, str] = {
    400: "Bad request: the body is not JSON or cannot be read",
    401: "Not authenticated: sign in, or send 'Authorization: Bearer <token>'",
    403: "Permission denied: the user's role, or the token's scopes, do not allow this",
    404: "Not found: the object does not exist, or is outside the partner's custody",
    409: "Conflict: the step is impossible in the object's current state",
    422: "Validation failed: which field, why, and what was expected",
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message", "field", "details"],
    "properties": {
        "error": {"type": "string", "description": "A stable code, e.g. validation_failed"},
        "message": {"type": "string", "description": "What is wrong and what was expected"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "details": {"description": "More about the error; a list of per-field errors for 422"},
    },
}

_MODE_TITLES = {"validation": "Input", "serialization": "Output"}
_FIRST_PASS = re.compile(r"(?P<module>\w+)__(?P<name>[A-Za-z0-9]\w*?)-(?P<mode>Input|Output)")


def declare_error_responses(schema: dict[str, Any]) -> None:
    """Add the error responses to every operation that does not declare its own."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in schema["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                if status not in responses and str(status) not in responses:
                    responses[status] = {"description": description, "content": error}


def _first_pass_name(core_ref: str, mode: str) -> str:
    """``module.Class-Mode``: unique per class and mode (pydantic spells the dots ``__``)."""
    qualified = core_ref.rsplit(":", 1)[0]
    return f"{qualified}-{_MODE_TITLES.get(mode, mode)}"


def _parse_key(key: str) -> tuple[str, str, str] | None:
    """(module, class name, mode) of a first-pass component name."""
    match = _FIRST_PASS.fullmatch(key)
    return None if match is None else (match["module"], match["name"], match["mode"])


def _camel(parts: list[str]) -> str:
    words = [w for part in parts if part != "medtrace" for w in part.split("_") if w]
    return "".join(word.capitalize() for word in words)


class _Naming:
    """What the first pass learnt: for each (class, mode), the component name to use."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def decide(self, contents: dict[str, str]) -> None:
        """``contents``: first-pass key -> its JSON Schema as text, refs by first-pass key."""
        by_name: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for key in contents:
            parsed = _parse_key(key)
            if parsed is not None:  # else a generic, named by pydantic
                by_name[parsed[1]].append((key, parsed[0], parsed[2]))
        for name, keys in by_name.items():
            if len({contents[key] for key, _m, _mode in keys}) == 1:
                for key, _m, _mode in keys:
                    self.names[key] = name
                continue
            modules = sorted({module for _k, module, _mode in keys})
            apps = {m: _camel(m.split("__")[:2]) for m in modules}
            use_app = len(set(apps.values())) == len(modules)
            for key, module, mode in keys:
                prefix = ""
                if len(modules) > 1:
                    prefix = apps[module] if use_app else _camel(module.split("__"))
                siblings = {contents[k] for k, m, _mode in keys if m == module}
                suffix = "Output" if len(siblings) > 1 and mode == "Output" else ""
                self.names[key] = prefix + name + suffix


def _generator(naming: _Naming | None) -> type[NinjaGenerateJsonSchema]:
    class Generator(NinjaGenerateJsonSchema):
        def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
            defs_ref = super().get_defs_ref(core_mode_ref)
            core_ref, mode = core_mode_ref
            if "[" in core_ref:  # a generic: pydantic spells its arguments into the name
                return defs_ref
            key = self.normalize_name(_first_pass_name(core_ref, mode))
            name = key if naming is None else naming.names.get(key)
            if name is not None:
                self._prioritized_defsref_choices[defs_ref].insert(
                    0, DefsRef(self.normalize_name(name))
                )
            return defs_ref

    return Generator


class DocumentSchema(OpenAPISchema):
    """ninja's document, with component names from ``naming`` (see the module docstring)."""

    def __init__(self, api: NinjaAPI, path_prefix: str, naming: _Naming | None) -> None:
        self.generator = _generator(naming)
        self.definitions: dict[str, str] = {}
        super().__init__(api, path_prefix)

    def add_schema_definitions(self, definitions: dict) -> None:
        for key, value in definitions.items():
            self.definitions[key] = json.dumps(value, sort_keys=True)
        super().add_schema_definitions(definitions)

    # The two methods below are ninja 1.7's own, with our schema generator.
    def _extract_parameters(self, model: TModel) -> list[dict[str, Any]]:
        result = []
        schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=self.generator)
        required = set(schema.get("required", []))
        if "$defs" in schema:
            self.add_schema_definitions(schema["$defs"])
        for name, details in schema["properties"].items():
            for p_name, p_schema, p_required in flatten_properties(
                name, details, name in required, schema.get("$defs", {})
            ):
                if not p_schema.get("include_in_schema", True):
                    continue
                param: dict[str, Any] = {
                    "in": model.__ninja_param_source__,
                    "name": p_name,
                    "schema": p_schema,
                    "required": p_required,
                }
                if "description" in p_schema:
                    param["description"] = p_schema["description"]
                if "examples" in p_schema:
                    param["examples"] = p_schema["examples"]
                elif "example" in p_schema:
                    param["example"] = p_schema["example"]
                if "deprecated" in p_schema:
                    param["deprecated"] = p_schema["deprecated"]
                result.append(param)
        return result

    def _create_schema_from_model(
        self,
        model: TModel,
        by_alias: bool = True,
        remove_level: bool = True,
        mode: JsonSchemaMode = "validation",
    ) -> tuple[dict[str, Any], bool]:
        if hasattr(model, "__ninja_flatten_map__"):
            schema = self._flatten_schema(model)
        else:
            schema = model.model_json_schema(
                ref_template=REF_TEMPLATE,
                by_alias=by_alias,
                schema_generator=self.generator,
                mode=mode,
            ).copy()
        if schema.get("$defs"):
            self.add_schema_definitions(schema.pop("$defs"))
        if remove_level and len(schema["properties"]) == 1:
            name, details = next(iter(schema["properties"].items()))
            return details, name in schema.get("required", {})
        return schema, True


_REF = re.compile(r'"#/components/schemas/([^"]+)"')


def _naming(contents: dict[str, str]) -> _Naming:
    """Names such that two components share a name only when their schemas, with the refs in
    them renamed the same way, are equal: decided again with the refs renamed until stable."""
    naming = _Naming()
    naming.decide(contents)
    for _round in range(10):
        names = naming.names
        renamed = {
            key: _REF.sub(lambda m, names=names: f'"{names.get(m[1], m[1])}"', text)  # type: ignore[misc]
            for key, text in contents.items()
        }
        again = _Naming()
        again.decide(renamed)
        if again.names == naming.names:
            break
        naming = again
    return naming


def build_document(api: NinjaAPI, path_prefix: str) -> DocumentSchema:
    first = DocumentSchema(api, path_prefix, naming=None)
    naming = _naming(first.definitions)
    document = DocumentSchema(api, path_prefix, naming=naming)
    declare_error_responses(document)
    return document
