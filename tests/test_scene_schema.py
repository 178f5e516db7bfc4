"""The JSON Schema: valid draft 2020-12, derived from the loader's own field table, and in agreement
with the loader on valid and broken scenes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from middleware.cli import main as cli_main
from middleware.scene import fields as F
from middleware.scene.schema import scene_schema
from middleware.scene.spec import Choice, Convert, ListOf, MapOf, Record, Spec

CORPUS = Path(__file__).parent / "broken_scenes"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "scene-format.md"


def doc_blocks() -> list[tuple[str, str]]:
    """Every ```yaml block of the format reference, with the heading it sits under."""
    out, heading = [], ""
    for part in re.split(r"(^## .*$)", DOCS.read_text(encoding="utf-8"), flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
        else:
            out += [(heading, b) for b in re.findall(r"```yaml\n(.*?)```", part, re.S)]
    return out


BLOCKS = doc_blocks()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scene_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def records(spec: Spec, seen: dict[str, Record] | None = None) -> dict[str, Record]:
    """Every record reachable from ``spec``: the loader's view of the format."""
    seen = {} if seen is None else seen
    if isinstance(spec, Record):
        if spec.title in seen:
            return seen
        seen[spec.title] = spec
        for f in spec.fields:
            records(f.spec, seen)
    elif isinstance(spec, Choice):
        for o in spec.options:
            records(o.spec, seen)
    elif isinstance(spec, ListOf):
        records(spec.item, seen)
    elif isinstance(spec, MapOf):
        records(spec.value, seen)
    elif isinstance(spec, Convert):
        records(spec.inner, seen)
    return seen


def test_schema_is_valid_draft_2020_12(validator):
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_and_loader_share_every_key(validator):
    defs = validator.schema["$defs"]
    for title, rec in records(F.SCENE).items():
        body = defs[title]
        obj = body if "properties" in body else next(b for b in body["anyOf"] if "properties" in b)
        keys = {f.name for f in rec.fields if f.name != rec.name_field}
        assert set(obj["properties"]) == keys, title
        assert obj["additionalProperties"] is False
        assert set(obj.get("required", [])) == {
            f.name for f in rec.fields if f.required and f.name != rec.name_field
        }
        for key, prop in obj["properties"].items():
            assert prop.get("description"), f"{title}.{key} has no description"


def test_descriptions_name_units_and_enums_defaults_are_present(validator):
    defs = validator.schema["$defs"]
    layer = defs["Layer"]["properties"]
    assert "dB" in layer["gain"]["description"] and "Hz" in layer["lowpass"]["description"]
    assert "semitones" in layer["pitch"]["description"] and "seconds" in layer["fade_in"]["description"]
    assert layer["mode"]["enum"] == ["loop", "oneshot", "scatter"] and layer["mode"]["default"] == "loop"
    assert layer["fade_in"]["default"] == 0.25
    assert defs["Transition"]["anyOf"][1]["properties"]["at"]["enum"] == ["beat", "bar", "immediate"]


@pytest.mark.parametrize(("heading", "text"), BLOCKS, ids=[f"{i}-{h}" for i, (h, _) in enumerate(BLOCKS)])
def test_documented_examples_pass_the_schema(validator, heading, text):
    errors = list(validator.iter_errors(yaml.safe_load(text)))
    assert not errors, [e.message for e in errors]


# Broken files whose mistake is structural, so a schema (which cannot see names) must catch it too.
STRUCTURAL = [
    "01_unknown_key",
    "07_value_out_of_range",
    "08_wrong_type",
    "20_missing_source",
    "26_unknown_mode",
    "28_absolute_asset_path",
    "40_unsupported_file_type",
    "29_keyword_as_name",
]


@pytest.mark.parametrize("stem", STRUCTURAL)
def test_structural_mistakes_fail_the_schema_too(validator, stem):
    doc = yaml.safe_load((CORPUS / f"{stem}.yaml").read_text())
    assert list(validator.iter_errors(doc)), stem


def test_schema_command_prints_the_schema(capsys, tmp_path):
    assert cli_main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == scene_schema()
    out = tmp_path / "scene.schema.json"
    assert cli_main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == printed
