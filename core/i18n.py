"""Message catalogues: every fixed text a customer sees, in each supported language.

The catalogues are gettext `.po` files under `locale/<language>/LC_MESSAGES/`,
one domain per part (`gateway`, `channels`, `handoff`, `actions`, `knowledge`,
`widget`), edited by translators with any gettext tool. English is the source
language: the msgid is the English text, so English needs no catalogue. The
`.po` files are read directly with Babel (no compile step to forget).

    from core.i18n import translator
    _ = translator("handoff", "de").gettext
    _("You're number {position} in the queue.").format(position=2)

Placeholders are `str.format` names, never positional, so a translation may
reorder them.
"""

from __future__ import annotations

import functools
import gettext
from pathlib import Path

from babel.messages.pofile import read_po

from core.settings import PROJECT_ROOT

LANGUAGES: tuple[str, ...] = ("en", "de")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}
LOCALE_DIR = PROJECT_ROOT / "locale"


def supported(language: str | None) -> str:
    """A supported code for any input: "de-AT" and "DE" -> "de"; None and "fr" -> "en"."""
    code = (language or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


class _PoTranslations(gettext.NullTranslations):
    """gettext's interface over one parsed `.po` catalogue; an empty or fuzzy entry
    falls back to the English msgid (the completeness test makes that a failure)."""

    def __init__(self, messages: dict[str, str | tuple[str, ...]]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        found = self._messages.get(message)
        return found if isinstance(found, str) and found else message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        found = self._messages.get(msgid1)
        if isinstance(found, tuple) and all(found):
            return found[0] if n == 1 else found[-1]  # German and English: one/other
        return msgid1 if n == 1 else msgid2


def catalogue_path(domain: str, language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


@functools.cache
def translator(domain: str, language: str | None) -> gettext.NullTranslations:
    """The translations of one part's texts into `language` (cached per process)."""
    language = supported(language)
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    path = catalogue_path(domain, language)
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    messages: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = str(message.id if isinstance(message.id, str) else message.id[0])
        string = message.string
        messages[key] = tuple(string) if isinstance(string, (tuple, list)) else (string or "")
    return _PoTranslations(messages)


def text(domain: str, language: str | None, message: str, **values: object) -> str:
    """One translated, formatted text: `text("handoff", "de", "Hi {name}", name="Ana")`."""
    translated = translator(domain, language).gettext(message)
    return translated.format(**values) if values else translated


# -- where each domain's texts are written ----------------------------------------------

# Domain -> the source it is extracted from (folders or files, relative to the
# project root). A file or folder listed for one domain is left out of any
# other domain whose folder contains it (the widget's labels live inside
# bot/channels/ but are their own domain). The completeness test
# (tests/core/test_catalogues.py) and `frontdoor i18n` both read this map.
DOMAINS: dict[str, tuple[str, ...]] = {
    "gateway": ("bot/gateway",),
    "channels": ("bot/channels",),
    "handoff": ("handoff",),
    "actions": ("actions",),
    "knowledge": ("knowledge",),
    "widget": ("bot/channels/web/labels.py",),
}
# How a text is marked for extraction: gettext's names (`_`, `gettext`,
# `ngettext`, also as methods: `translator(...).gettext("...")`), `N_` for a
# text only listed where it is defined, and `text(domain, language, msgid, ...)`,
# which names its domain itself (so `text("handoff", ...)` in bot/gateway/ is a
# handoff text). The others belong to the domain of the file they are in.
# Only literal strings are texts; an f-string cannot be one.
KEYWORDS: dict[str, tuple[int, ...]] = {"_": (1,), "gettext": (1,), "ngettext": (1, 2),
                                        "N_": (1,), "text": (3,)}


def N_(message: str) -> str:
    """Marks a text for extraction where it is only listed (translated later)."""
    return message
