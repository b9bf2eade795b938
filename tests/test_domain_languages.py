"""Every response of the assistant has a German variation on the `language`
slot and an English default, one text each, without blank lines (the REST
channel would split a text at one)."""

import yaml

from core.settings import PROJECT_ROOT

GERMAN = [{"type": "slot", "name": "language", "value": "de"}]


def test_every_response_has_an_english_default_and_a_german_variation():
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert domain["slots"]["language"]["initial_value"] == "en"
    for name, variations in domain["responses"].items():
        defaults = [v for v in variations if not v.get("condition")]
        german = [v for v in variations if v.get("condition") == GERMAN]
        assert len(defaults) == 1 and len(german) == 1, name
        assert len(variations) == 2, name
        for variation in variations:
            assert variation["text"].strip() and "\n\n" not in variation["text"], name
        assert [b["payload"] for b in german[0].get("buttons", [])] == \
            [b["payload"] for b in defaults[0].get("buttons", [])], name
