"""Checking and refreshing the message catalogues against the source (a
development tool: the gateway only reads catalogues, core/i18n.py).

`extract(domain)` finds every text marked for a domain (core.i18n.KEYWORDS)
through Babel's extraction interface; `problems(domain)` says what the German
catalogue lacks (tests/core/test_catalogues.py fails on any); `update(domain)`
adds new texts to the catalogue with empty translations and marks texts no
longer in the source obsolete (`frontdoor i18n update`).
"""

from __future__ import annotations

import ast
import functools
import string
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract as babel_extract
from babel.messages.pofile import read_po, write_po

from core.i18n import (
    DEFAULT_LANGUAGE,
    DOMAINS,
    KEYWORDS,
    LANGUAGE_NAMES,
    LANGUAGES,
    catalogue_path,
)
from core.settings import PROJECT_ROOT

# Where marked texts may be: every domain's folder, plus shared code calling text(...).
SOURCES = ("bot", "handoff", "actions", "knowledge", "core")
Msgid = str | tuple[str, ...]


def domain_of(path: Path) -> str | None:
    """The domain whose source holds `path` (the most specific listing wins)."""
    best: tuple[int, str] | None = None
    for domain, paths in DOMAINS.items():
        for listed in paths:
            root = PROJECT_ROOT / listed
            if path == root or path.is_relative_to(root):
                depth = len(root.parts)
                if best is None or depth > best[0]:
                    best = (depth, domain)
    return best[1] if best else None


def extract_python(fileobj, keywords, comment_tags, options):
    """A Babel extraction method (babel.messages.extract's interface): the
    marked texts of one Python file, read with `ast` rather than tokens, so a
    `text` variable or a `def text(...)` is never mistaken for a call. Each
    text's domain is its only comment: the one a `text(...)` call names, else
    options["file_domain"]; with options["domain"], only that domain's texts."""
    tree = ast.parse(fileobj.read())
    want, here = options.get("domain"), options.get("file_domain")
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)),
                   key=lambda n: (n.lineno, n.col_offset))  # in source order
    for node in calls:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else None
        if name not in keywords:
            continue
        args = tuple(a.value if isinstance(a, ast.Constant) and isinstance(a.value, str)
                     else None for a in node.args)
        if name == "text":
            if not args or args[0] is None:
                continue
            domain = args[0]
        else:
            domain = here
        if domain is not None and (want is None or domain == want):
            # Babel picks the msgid(s) by the keyword's positions; a None there
            # (not a literal) is skipped with a warning.
            yield node.lineno, name, args, [domain]


def extract(domain: str) -> dict[Msgid, list[str]]:
    """Every msgid marked for `domain` in the project's source -> where it is
    ("path:line"), through Babel's extractor with the method above. A plural is
    the tuple (singular, plural)."""
    files = tuple((str(p), p.stat().st_mtime_ns)
                  for top in SOURCES for p in sorted((PROJECT_ROOT / top).rglob("*.py")))
    return dict(_extract_all(files).get(domain, {}))


@functools.lru_cache(maxsize=1)
def _extract_all(files: tuple[tuple[str, int], ...]) -> dict[str, dict[Msgid, list[str]]]:
    """One pass over the source for every domain (cached while no file changes)."""
    found: dict[str, dict[Msgid, list[str]]] = {}
    for name, _mtime in files:
        path = Path(name)
        with path.open("rb") as f:
            for line, message, comments, _ctx in babel_extract(
                    extract_python, f, keywords=KEYWORDS,
                    options={"file_domain": domain_of(path)}, strip_comment_tags=False):
                key = message if isinstance(message, str) else tuple(message)
                where = f"{path.relative_to(PROJECT_ROOT)}:{line}"
                found.setdefault(comments[0], {}).setdefault(key, []).append(where)
    return found


def placeholders(message: str) -> set[str] | None:
    """The `str.format` names in a text ({position} -> "position"); None when
    its braces do not parse."""
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(message)
                if name is not None}
    except ValueError:
        return None


def _read(domain: str, language: str) -> Catalog | None:
    path = catalogue_path(domain, language)
    if not path.exists():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=language, domain=domain)


def problems(domain: str, language: str = "de") -> list[str]:
    """What keeps `language` from having every text of `domain`: a text with no
    entry, an empty or fuzzy entry, or a translation whose placeholders differ
    from the English text's (a lost {position} would raise at runtime)."""
    found = extract(domain)
    catalog = _read(domain, language)
    if catalog is None:
        return [f"{catalogue_path(domain, language).relative_to(PROJECT_ROOT)} is missing "
                f"({len(found)} texts; `frontdoor i18n update` creates it)"] if found else []
    out = []
    for msgid, where in found.items():
        key = msgid if isinstance(msgid, str) else msgid[0]
        entry = catalog.get(key)
        label = f"{key!r} ({where[0]})"
        if entry is None:
            out.append(f"no entry: {label}")
            continue
        strings = entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)
        if entry.fuzzy:
            out.append(f"fuzzy: {label}")
        elif not all(strings):
            out.append(f"untranslated: {label}")
        else:
            wanted = placeholders(msgid if isinstance(msgid, str) else msgid[-1])
            for translated in strings:
                if placeholders(str(translated)) != wanted:
                    out.append(f"placeholders {sorted(wanted or ())} differ in {translated!r}: "
                               f"{label}")
    return out


@dataclass(frozen=True)
class Updated:
    path: Path
    added: int
    obsolete: int


def update(domain: str, language: str = "de") -> Updated:
    """Bring a catalogue up to date with the source: new texts get an empty
    entry (to translate), texts no longer marked anywhere become obsolete
    (`#~`), translations are kept. No source locations are written, so two
    branches adding texts to one catalogue rarely conflict."""
    assert language != DEFAULT_LANGUAGE and language in LANGUAGES
    template = Catalog(domain=domain)
    for msgid in extract(domain):
        template.add(msgid)
    path = catalogue_path(domain, language)
    existing = _read(domain, language)
    if existing is None and not len(template):
        return Updated(path, 0, 0)  # nothing to translate yet: no empty file
    catalog = existing or Catalog(locale=language, domain=domain, project="Front Door",
                                  version="", copyright_holder="Front Door contributors",
                                  last_translator="Front Door contributors",
                                  language_team=f"{LANGUAGE_NAMES[language]}", fuzzy=False)
    # A stable header: two branches updating one catalogue should only differ
    # in the entries they add.
    template.creation_date = catalog.creation_date
    before = {m.id for m in catalog if m.id}
    catalog.update(template, no_fuzzy_matching=True)
    after = {m.id for m in catalog if m.id}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, no_location=True, include_previous=False)
    return Updated(path, len(after - before), len(before - after))
