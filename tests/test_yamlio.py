"""The YAML reader of the method files (``analysis.method.yamlio``) gives the
same values and types as PyYAML's pure-Python ``safe_load`` on every shipped
YAML file, and refuses what ``safe_load`` refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analysis.method.yamlio import LOADER, read_yaml

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*ROOT.glob("methodology/*.yml"), *ROOT.glob("profiles/*/*.yml"), ROOT / "analysis/pipeline/stages.yml",
                ROOT / "report/_quarto.base.yml"])


def test_libyaml_is_used_when_present():
    assert LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_values_and_types_as_safe_load(path):
    text = path.read_text(encoding="utf-8")

    def typed(x):  # equality ignoring types would take 1 == 1.0 == True
        if isinstance(x, dict):
            return {k: typed(v) for k, v in x.items()}
        if isinstance(x, list):
            return [typed(v) for v in x]
        return (type(x).__name__, x)

    assert typed(read_yaml(text)) == typed(yaml.safe_load(text))


def test_unsafe_tags_are_refused():
    with pytest.raises(yaml.YAMLError):
        read_yaml("a: !!python/object/apply:os.system ['true']")
