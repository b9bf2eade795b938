"""The message catalogues are complete: every text marked in the source of
each domain (core.i18n.DOMAINS) has a German translation that keeps its
placeholders. `frontdoor i18n update` adds new texts; translate them in
locale/de/LC_MESSAGES/<domain>.po."""

from __future__ import annotations

import io

import pytest

from core import catalogues
from core.i18n import DOMAINS, text


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_german_catalogue_has_every_text_of_the_domain(domain):
    problems = catalogues.problems(domain, "de")
    assert not problems, f"{len(problems)} German texts of {domain!r} are missing or wrong " \
                         "(`frontdoor i18n check`):\n" + "\n".join(problems)


def test_every_domain_maps_to_source_that_exists():
    for domain, paths in DOMAINS.items():
        for path in paths:
            assert (catalogues.PROJECT_ROOT / path).exists(), (domain, path)


def _extracted(source: str, domain: str, file_domain: str) -> list:
    found = catalogues.extract_python(io.BytesIO(source.encode()), catalogues.KEYWORDS, [],
                                      {"domain": domain, "file_domain": file_domain})
    return [args for _line, _name, args, _c in found]


def test_a_text_call_belongs_to_the_domain_it_names_wherever_it_is():
    source = ('x = text("handoff", language, "You are {n}.", n=2)\n'
              'y = _("Send")\n'
              'def text(a, b, c):\n    return text\n')
    assert _extracted(source, "handoff", "gateway") == [("handoff", None, "You are {n}.")]
    assert _extracted(source, "gateway", "gateway") == [("Send",)]
    assert _extracted(source, "gateway", None) == []  # a file of no domain: text() calls only


def test_a_lost_placeholder_is_a_problem():
    assert catalogues.placeholders("You're number {position}.") == {"position"}
    assert catalogues.placeholders("Sie sind Nummer {Position}.") == {"Position"}
    assert catalogues.placeholders("broken {") is None


def test_an_unknown_text_falls_back_to_english():
    assert text("handoff", "de", "Not a text anyone translated {x}", x=1) == \
        "Not a text anyone translated 1"
