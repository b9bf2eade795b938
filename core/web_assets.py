"""The browser scripts every Front Door page shares (core/static): DOMPurify
(vendored, see core/static/vendor/README.md), the safe-HTML allow-list and the
DOM helper. Each app's existing static route serves them under its own prefix
with its own headers; the web chat widget gets them prepended to widget.js, so
one <script> tag still embeds it."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
# Name -> file, in load order (a page includes them in this order, before its own script).
FILES = {"purify.min.js": STATIC / "vendor" / "purify.min.js",
         "dom.js": STATIC / "dom.js",
         "safe-html.js": STATIC / "safe-html.js"}
NAMES = tuple(FILES)
MEDIA = dict.fromkeys(NAMES, "text/javascript")
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
_BUNDLE_HEAD = """\
/*! Front Door web chat widget, in one file: DOMPurify (Apache-2.0 OR MPL-2.0,
 * core/static/vendor/), core/static/dom.js, core/static/safe-html.js and widget.js.
 * They run in a private scope: the host page only gets window.FrontDoor. */
(function () {
var globalThis = Object.create(null), define, exports, module; // private, no AMD/CommonJS
"""


def path(name: str, default_dir: Path) -> Path:
    """The file behind a static name: a shared script, else default_dir / name."""
    return FILES.get(name) or default_dir / name


def bundle(script: Path, prelude: str = "") -> str:
    """The shared scripts followed by `script`, as one script with its own scope;
    `prelude` (e.g. the widget's configuration) runs first inside that scope."""
    files = (*FILES.values(), script)
    whole = _bundle(tuple((str(f), f.stat().st_mtime_ns) for f in files))
    return whole.replace(_BUNDLE_HEAD, _BUNDLE_HEAD + prelude, 1) if prelude else whole


@lru_cache(maxsize=4)
def _bundle(files: tuple[tuple[str, int], ...]) -> str:
    parts = [_SOURCE_MAP.sub("", Path(name).read_text(encoding="utf-8")) for name, _ in files]
    return _BUNDLE_HEAD + "\n;\n".join(parts) + "\n})();\n"
