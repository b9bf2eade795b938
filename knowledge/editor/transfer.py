"""Import and export of the whole knowledge base: the articles folder format
(YAML front matter + Markdown, one `<id>.md` per article; over HTTP a zip of
them) and CSV (one row per article, for spreadsheets).

Both round-trip without loss. CSV cells that a spreadsheet would take for a
formula (a leading `=`, `+`, `-`, `@`, tab or carriage return: OWASP's "CSV
injection") are written with a leading `'`, which the import takes off again.
A malformed upload (not a zip, encrypted, truncated, a zip bomb, not UTF-8) is
an `UploadMalformed` with the reason. An import is checked completely before anything
is saved, and then saved in one transaction (ArticleStore.save_many), so a bad
file changes nothing.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from core.i18n import LANGUAGES
from knowledge import ArticleInvalid
from knowledge.articles_io import article_files, articles_from_files
from knowledge.editor.editing import CHANNELS, ArticleInput, clean_article, error_text, same_content
from knowledge.models import Article, ArticleText
from knowledge.store import ArticleStore

# The text columns of one language; a translation's carry its code: title_de, questions_de,
# answer_de, web_answer_de ... (the plain ones hold the article's main language).
TEXT_COLUMNS = ("title", "questions", "answer", *(f"{c}_answer" for c in CHANNELS))
CSV_COLUMNS = ("id", "title", "questions", "answer", *(f"{c}_answer" for c in CHANNELS),
               "tags", "language", "status",
               *(f"{column}_{code}" for code in LANGUAGES for column in TEXT_COLUMNS))
MAX_ARTICLES = 5000
MAX_IMPORT_BYTES = 20 * 1024 * 1024  # also the limit on a zip's unpacked size
MAX_ZIP_MEMBERS = 2 * MAX_ARTICLES  # entries of any kind, folders included
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula


class ImportInvalid(ArticleInvalid):
    """An import with problems; `problems` lists every one of them (not just the first)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UploadMalformed(ImportInvalid):
    """The file itself is unusable (not a zip, encrypted, truncated, too big
    unpacked, not UTF-8): over HTTP a 400, where problems in the articles are 422."""


def csv_cell(text: str) -> str:
    """A cell no spreadsheet runs as a formula: one `'` in front of text that starts
    (after any `'`s) with a formula character. `csv_text` is the exact inverse."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def csv_text(cell: str) -> str:
    """The text `csv_cell` was given (a cell written by hand without the `'` is
    taken as it is)."""
    if cell.startswith("'") and cell[1:].lstrip("'").startswith(FORMULA_START):
        return cell[1:]
    return cell


# -- export ----------------------------------------------------------------------


def md_files(articles: list[Article]) -> dict[str, str]:
    """{"<id>.md": text, "<id>.de.md": its German version, ...} in the folder format."""
    return {name: text for a in sorted(articles, key=lambda a: a.id)
            for name, text in article_files(a).items()}


def export_zip(articles: list[Article]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in md_files(articles).items():
            archive.writestr(f"articles/{name}", text)
    return buffer.getvalue()


def export_csv(articles: list[Article]) -> str:
    """One row per article. Question variants are one per line in their cell, tags
    comma-separated (the editor's rules keep newlines out of variants and commas
    out of tags, which is what makes this lossless)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for a in sorted(articles, key=lambda a: a.id):
        questions = [q for _, q in a.all_questions()]
        if any("\n" in q for q in questions) or any("," in t or "\n" in t for t in a.tags):
            raise ArticleInvalid(f"{a.id}: a question variant with a line break or a tag "
                                 "with a comma cannot be written as CSV")
        unwritable = [code for code in a.translations if code not in LANGUAGES]
        if unwritable:
            raise ArticleInvalid(f"{a.id}: no CSV columns for its {unwritable[0]} version")
        writer.writerow([csv_cell(cell) for cell in (
            a.id, *_text_cells(a.text(a.language)), ", ".join(a.tags), a.language, a.status,
            *(cell for code in LANGUAGES for cell in (
                _text_cells(a.translations[code]) if code in a.translations
                else ("",) * len(TEXT_COLUMNS))))])
    return out.getvalue()


def _text_cells(text: ArticleText) -> tuple[str, ...]:
    return (text.title, "\n".join(text.questions), text.answer,
            *(text.channels.get(c, "") for c in CHANNELS))


def write_folder(articles: list[Article], folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    files = md_files(articles)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return len(files)


# -- parsing (everything checked, every problem reported) ---------------------------


def parse_md_files(files: dict[str, str]) -> list[Article]:
    """{"path/<id>.md": text, "path/<id>.de.md": its German version} -> articles;
    the file name must be the article id."""
    parsed, problems = articles_from_files(files)
    articles = []
    for article in parsed:
        try:
            articles.append(clean_article(article))
        except ArticleInvalid as exc:
            problems.append(str(exc))
    return _checked(articles, problems)


def parse_zip(data: bytes) -> list[Article]:
    """The articles of a zip, unpacked with limits: at most MAX_ZIP_MEMBERS entries
    and MAX_IMPORT_BYTES unpacked (counted while unpacking, not taken from the
    archive's own say-so); encrypted, truncated or corrupt archives are refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise UploadMalformed([f"the file is not a zip archive, or a damaged one ({exc})"]
                              ) from None
    if len(entries) > MAX_ZIP_MEMBERS:
        raise UploadMalformed([f"the archive holds more than {MAX_ZIP_MEMBERS} entries"])
    members = [m for m in entries if not m.is_dir()
               and m.filename.endswith(".md") and "__MACOSX" not in m.filename
               and not PurePosixPath(m.filename).name.startswith(".")]
    if any(m.flag_bits & 0x1 for m in members):
        raise UploadMalformed(["the archive is encrypted: export it again without a password"])
    if sum(m.file_size for m in members) > MAX_IMPORT_BYTES:
        raise UploadMalformed([f"the archive unpacks to more than {MAX_IMPORT_BYTES} bytes"])
    if not members:
        raise ImportInvalid(["the archive holds no .md articles"])
    files, problems = {}, []
    budget = MAX_IMPORT_BYTES
    for member in members:
        try:
            raw = _unpack(archive, member, budget)
        except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError,
                NotImplementedError, ValueError, OSError) as exc:
            raise UploadMalformed([f"{member.filename}: the archive is damaged or uses an "
                                   f"unsupported format ({exc})"]) from None
        budget -= len(raw)
        try:
            files[member.filename] = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{member.filename}: not UTF-8 text")
    if problems:
        raise UploadMalformed(problems)
    return parse_md_files(files)


def _unpack(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int) -> bytes:
    """One member, read in pieces and given up as soon as the total passes the limit."""
    chunks, size = [], 0
    with archive.open(member) as stream:
        while chunk := stream.read(64 * 1024):
            size += len(chunk)
            if size > budget:
                raise UploadMalformed([f"the archive unpacks to more than "
                                       f"{MAX_IMPORT_BYTES} bytes"])
            chunks.append(chunk)
    return b"".join(chunks)


def parse_folder(folder: Path) -> list[Article]:
    paths = sorted(folder.glob("*.md"))
    if not paths:
        raise ImportInvalid([f"{folder}: no .md articles in this folder"])
    files, problems = {}, []
    for path in paths:
        try:
            files[str(path)] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
    if problems:
        raise ImportInvalid(problems)
    return parse_md_files(files)


def parse_csv(text: str) -> list[Article]:
    text = text.removeprefix("\ufeff")  # the byte order mark spreadsheets write
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportInvalid(["the CSV file is empty"]) from None
    except csv.Error as exc:
        raise UploadMalformed([f"CSV line 1: {exc}"]) from exc
    missing = [c for c in ("id", "title", "questions", "answer") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise ImportInvalid([f"CSV header: expected the columns {', '.join(CSV_COLUMNS)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown {', '.join(unknown)}" if unknown else "")])
    articles, problems = [], []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            row = [csv_text(cell) for cell in cells]
            where = f"CSV line {reader.line_num}"
            if len(row) != len(header):
                problems.append(f"{where}: {len(row)} cells, the header has {len(header)}")
                continue
            try:
                articles.append(_row_article(dict(zip(header, row, strict=True)), where))
            except ArticleInvalid as exc:
                problems.append(str(exc))
    except csv.Error as exc:
        raise UploadMalformed([f"CSV line {reader.line_num}: {exc}"]) from None
    return _checked(articles, problems)


def _row_texts(row: dict[str, str], suffix: str = "") -> dict:
    return dict(title=row.get(f"title{suffix}", ""),
                questions=row.get(f"questions{suffix}", "").split("\n"),
                answer=row.get(f"answer{suffix}", ""),
                channels={c: row.get(f"{c}_answer{suffix}", "") for c in CHANNELS})


def _row_article(row: dict[str, str], where: str) -> Article:
    article_id = row["id"].strip()
    # a language whose cells are all empty has no version; one half written is an error
    translations = {code: _row_texts(row, f"_{code}") for code in LANGUAGES
                    if any(row.get(f"{column}_{code}", "").strip() for column in TEXT_COLUMNS)}
    try:
        data = ArticleInput.model_validate(dict(  # the status is checked there
            **_row_texts(row),
            tags=row.get("tags", "").split(","),
            language=row.get("language", "").strip() or "en",
            # no status: published, as in the folder format (its files may omit it too)
            status=row.get("status", "").strip() or "published",
            translations=translations))
    except ValidationError as exc:
        raise ArticleInvalid(f"{where} ({article_id or 'no id'}): {error_text(exc)}") from exc
    try:
        return data.to_article(article_id)
    except ArticleInvalid as exc:
        raise ArticleInvalid(f"{where}: {exc}") from exc


def _checked(articles: list[Article], problems: list[str]) -> list[Article]:
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            problems.append(f"the article id {article.id!r} appears more than once")
        seen.add(article.id)
    if len(articles) > MAX_ARTICLES:
        problems.append(f"at most {MAX_ARTICLES} articles per import")
    if problems:
        raise ImportInvalid(problems)
    if not articles:
        raise ImportInvalid(["no articles found"])
    return articles


def parse_upload(filename: str, data: bytes) -> list[Article]:
    """An uploaded file by its name: .zip (folder format), .md (one article) or .csv."""
    name = filename.lower()
    if len(data) > MAX_IMPORT_BYTES:
        raise UploadMalformed([f"the file is larger than {MAX_IMPORT_BYTES} bytes"])
    if name.endswith(".zip"):
        return parse_zip(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadMalformed([f"{filename}: not UTF-8 text ({exc.reason} at byte "
                               f"{exc.start})"]) from None
    if name.endswith(".csv"):
        return parse_csv(text)
    if name.endswith(".md"):
        return parse_md_files({PurePosixPath(filename).name: text})
    raise UploadMalformed([(f"{filename}: import a .zip of .md articles, one .md article "
                          "or a .csv file")])


def parse_path(path: Path) -> list[Article]:
    """The command line's PATH: an articles folder, a .zip, a .md or a .csv file."""
    if path.is_dir():
        return parse_folder(path)
    if not path.is_file():
        raise ImportInvalid([f"{path}: no such file or folder"])
    return parse_upload(path.name, path.read_bytes())


# -- importing into the store ---------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


async def import_articles(store: ArticleStore, articles: list[Article], *, author: str,
                          dry_run: bool = False) -> ImportReport:
    """New ids are created, changed articles get a new version, identical ones are
    left alone; articles missing from the import are kept as they are, and so
    are languages missing from an imported article (an English-only file from
    before the translation does not delete the German; the editor does)."""
    current = {a.id: a for a in await store.all()}
    report = ImportReport()
    changes: list[tuple[Article, int | None]] = []
    for article in articles:
        existing = current.get(article.id)
        if existing is not None:
            kept = {code: text for code, text in existing.translations.items()
                    if code != article.language and code not in article.translations}
            if kept:
                article = article.model_copy(update={"translations": dict(sorted(
                    {**article.translations, **kept}.items()))})
        if existing is None:
            report.created.append(article.id)
            changes.append((article, None))
        elif same_content(existing, article):
            report.unchanged.append(article.id)
        else:
            report.updated.append(article.id)
            changes.append((article, existing.version))
    if not dry_run:
        await store.save_many(changes, author=author)
    return report
