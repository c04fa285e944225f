"""posts.yaml as a JSON Schema (draft 2020-12), for help while typing in an editor.

Generated from the models, so it follows them: each field's description, its allowed values, the
patterns of ids, colours, times and schedules, and no unknown keys. It describes the file as
content.py reads it: each top-level section on its own, booleans and numbers also in the forms
YAML 1.1 and pydantic accept as text (`yes`, `5_000_000`), times and durations as text. Editors see
the file as YAML 1.2, where a timestamp is text too. `validate` stays the whole check: ids unique,
accounts that exist, platform limits, assets, contrast.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from scheduler import content, models

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Where posts.yaml's first line points the YAML language server (VS Code's YAML extension and others).
SHIPPED_PATH = "schema/posts.schema.json"

# The text pydantic reads as a boolean: 0/1, true/false, t/f, yes/no, y/n, on/off, in any case.
_BOOLEAN_WORDS = "|".join(
    "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in word)
    for word in ("0", "1", "true", "false", "t", "f", "yes", "no", "y", "n", "on", "off")
)
_INTEGER_TEXT = r"^\s*[+-]?\d+(?:_\d+)*(?:\.0+)?\s*$"
_POSITIVE_INTEGER_TEXT = r"^\s*\+?0*[1-9]\d*(?:_\d+)*(?:\.0+)?\s*$"
_ACCOUNT_ID = {
    "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$",
    "patternErrorMessage": "not a valid account id; use lower-case letters, digits, '-' or '_'",
}


def document() -> dict[str, Any]:
    """The JSON Schema of posts.yaml."""
    generated = _file_model().model_json_schema(schema_generator=_YamlSchema)
    generated.pop("title", None)
    _unwrap_descriptions(generated)
    # content.py's own checks of accounts: at least one, and ids it can use in variable names.
    generated["properties"]["accounts"] |= {"minProperties": 1, "propertyNames": _ACCOUNT_ID}
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "title": "posts.yaml",
        "description": "The campaign: what is posted, when, and to which accounts. "
        "Check it with `python run.py validate`.",
        **generated,
        # content.py: a post with neither at nor every needs a queue slot.
        "if": {"not": {"required": ["queue"]}},
        "then": {"properties": {"posts": {"items": {"anyOf": [_given("at"), _given("every")]}}}},
    }
    return schema


def render() -> str:
    """The schema as `run.py schema` prints it and schema/posts.schema.json holds it."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def _unwrap_descriptions(node: Any) -> None:
    """Docstrings wrap at the code's width; an editor's tooltip wraps on its own."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = " ".join(value.split())
            else:
                _unwrap_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            _unwrap_descriptions(item)


def _given(key: str) -> dict[str, Any]:
    return {
        "required": [key],
        "properties": {key: {"type": "string"}},
        "errorMessage": "has no at or every, and the campaign has no queue.slots to place it in",
    }


def _file_model() -> type[BaseModel]:
    """The top level as content.py validates it: each section with the type of models.SECTIONS, and posts."""
    sections: dict[str, Any] = {**models.SECTIONS, "posts": list[models.Post]}
    fields: dict[str, Any] = {}
    for name, kind in sections.items():
        info = models.Campaign.model_fields[name]
        if name in content.REQUIRED:
            field = Field(description=info.description)
        elif isinstance(info.default, bool | int | str):
            field = Field(info.default, description=info.description)
        else:  # the default section is the sum of its fields' defaults, shown there; a default null would be wrong
            field = Field(default_factory=lambda: None, description=info.description)
        fields[name] = (kind, field)
    return create_model("PostsYaml", __base__=models.Model, **fields)


class _YamlSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with what YAML and the validators let through, and errors where validate puts them."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # the key is its own title; the description says the rest

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        words = {"type": "string", "pattern": f"^(?:{_BOOLEAN_WORDS})$", "patternErrorMessage": "must be true or false"}
        return {"anyOf": [{"type": "boolean"}, {"enum": [0, 1]}, words]}

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """`X | None` as one schema where it can be, so that an error names what is wrong with the value
        instead of "not valid under any of the given schemas"."""
        inner = self.generate_inner(schema["schema"])
        kind = inner.get("type")
        if not isinstance(kind, str) or kind == "null" or "$ref" in inner:
            return self.get_union_of_schemas([inner, {"type": "null"}])
        nullable = {**inner, "type": [kind, "null"]}
        if "enum" in inner:
            nullable["enum"] = [*inner["enum"], None]
        return nullable

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        number = super().int_schema(schema)
        positive = number.get("exclusiveMinimum") == 0 or number.get("minimum") == 1
        text = _POSITIVE_INTEGER_TEXT if positive else _INTEGER_TEXT
        return {"anyOf": [number, {"type": "string", "pattern": text, "patternErrorMessage": "must be a whole number"}]}

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """Keys with a pattern as propertyNames, so a wrong key is an error rather than an unchecked extra."""
        generated = super().dict_schema(schema)
        patterns = generated.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            generated["propertyNames"] = {"pattern": pattern, **generated.get("propertyNames", {})}
            generated["additionalProperties"] = values
        return generated

    def tagged_union_schema(self, schema: core_schema.TaggedUnionSchema) -> JsonSchemaValue:
        """One branch per tag value through if/then (accounts by platform), so that a wrong platform is
        reported at `platform` and a wrong key at its account, instead of "matches none of 4 schemas"."""
        generated = super().tagged_union_schema(schema)
        discriminator = generated.get("discriminator")
        if not isinstance(discriminator, dict):
            return generated
        tag, mapping = discriminator["propertyName"], discriminator["mapping"]
        return {
            "type": "object",
            "required": [tag],
            "properties": {tag: {"enum": list(mapping), "description": f"One of {', '.join(mapping)}."}},
            "allOf": [
                {
                    "if": {"required": [tag], "properties": {tag: {"const": value}}},
                    "then": {"$ref": target} if isinstance(target, str) else target,
                }
                for value, target in mapping.items()
            ],
        }

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return models.format_duration(dft)
        return super().encode_default(dft)
