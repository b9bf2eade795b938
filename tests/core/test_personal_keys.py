"""Every kind of Redis key is classified for erasure (the rule in core/keys.py):
each key builder of each part's key class is erased by its part's PersonalData
(`covers`), or declared in the class as holding no personal data
(`not_personal`) or as kept on purpose (`kept`), with the reason. A new key kind
that is none of these fails here, by name; the end-to-end scan after an erase
is tests/bot/customers/test_privacy.py."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bot.customers.parts import PERSONAL_DATA
from core.keys import KeySpace, key_builders, key_classes
from core.personal import PersonalData

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "core", "handoff", "knowledge")


def import_every_key_class() -> list[type[KeySpace]]:
    """Import every project module that mentions KeySpace; their key classes."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "KeySpace" in path.read_text(encoding="utf-8"):
                parts = path.relative_to(ROOT).with_suffix("").parts
                importlib.import_module(".".join(p for p in parts if p != "__init__"))
    return [k for k in key_classes() if k.__module__.split(".")[0] in PACKAGES]


def covered_by(parts) -> set[tuple[type[KeySpace], str]]:
    return {ref for part in parts for ref in part.covers}


def unclassified(classes, parts) -> list[str]:
    covered = covered_by(parts)
    return [f"{k.__module__}.{k.__qualname__}.{name}"
            for k in classes for name in key_builders(k)
            if (k, name) not in covered and not k.not_personal.get(name)
            and not k.kept.get(name)]


def test_every_key_builder_of_every_part_is_erased_or_declared():
    classes = import_every_key_class()
    assert len(classes) >= 11, classes  # the discovery found the parts' key classes
    missing = unclassified(classes, PERSONAL_DATA)
    assert not missing, (
        "key kinds with no erasure and no declaration: erase them in the part's "
        "PersonalData (and list them in its `covers`), or declare them in the key class's "
        f"`not_personal`/`kept` with the reason: {missing}")


def test_declarations_name_real_builders_and_do_not_contradict_erasure():
    covered = covered_by(PERSONAL_DATA)
    for keys in import_every_key_class():
        builders = set(key_builders(keys))
        for name in (*keys.not_personal, *keys.kept):
            assert name in builders, f"{keys.__qualname__} declares unknown {name!r}"
        for name in keys.not_personal:
            assert (keys, name) not in covered, f"{keys.__qualname__}.{name} is erased " \
                "yet declared as holding no personal data"


def test_every_part_implements_the_one_interface():
    for part in PERSONAL_DATA:
        assert isinstance(part(None), PersonalData), part


def test_a_new_key_kind_holding_a_customer_id_is_named():
    @dataclass(frozen=True)
    class ExampleKeys(KeySpace):
        not_personal: ClassVar[dict[str, str]] = {"counter": "a number"}

        @property
        def counter(self) -> str:
            return f"{self.prefix}:example:counter"

        def favourite_colour(self, customer_id: str) -> str:
            return f"{self.customer_tag(customer_id)}:favourite-colour"

    assert unclassified([ExampleKeys], PERSONAL_DATA) == [
        f"{__name__}.test_a_new_key_kind_holding_a_customer_id_is_named.<locals>."
        "ExampleKeys.favourite_colour"]


def part_of(module: str) -> str:
    """bot.channels.<name>, bot.<sub-package>, or the top package (core, handoff, …)."""
    p = module.split(".")
    if p[0] != "bot" or len(p) < 2:
        return p[0]
    if p[1] == "app":
        return "bot.gateway"  # the gateway's app factory wires its streams
    if p[1] == "channels" and len(p) > 3:
        return ".".join(p[:3])
    return ".".join(p[:2])


def test_no_module_imports_another_parts_keys():
    """A part reads another's data through that part's API, never its keys."""
    import ast

    crossings = []
    for package in (*PACKAGES, "actions"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(p for p in path.relative_to(ROOT).with_suffix("").parts
                              if p != "__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or not node.module \
                        or node.module.split(".")[0] not in PACKAGES:
                    continue
                source = importlib.import_module(node.module)
                for alias in node.names:
                    value = getattr(source, alias.name, None)
                    is_keys = isinstance(value, KeySpace) or (
                        isinstance(value, type) and issubclass(value, KeySpace)
                        and value is not KeySpace)
                    if is_keys and part_of(node.module) != part_of(module):
                        crossings.append(f"{module} imports {node.module}.{alias.name}")
    assert not crossings, crossings
