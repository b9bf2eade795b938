"""`frontdoor bench nlu`: intent classification per language, by cross-validation.

Runs Rasa's own `rasa test nlu --cross-validation` (in .venv-rasa, with
config.yml, on every NLU file in data/) with per-example results written, then
tells each test example's language by the file it came from: `*_de.yml` files
are German (data/nlu_de.yml, data/identity_nlu_de.yml), the others English. A
table gives, per language and for both, the examples, intent accuracy and macro
F1 over the intents that language has. Rasa's own report (results/nlu/) covers
both languages together.

Each fold trains a model, so a run takes about three trainings (`make test-nlu`).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.infra.supervisor import RASA_BIN, base_env
from core.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"
# "[returns-policy](article_id)" -> "returns-policy": Rasa reports the plain text.
_ENTITY = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


def language_of_file(path: Path) -> str:
    return "de" if path.stem.endswith("_de") else "en"


def example_languages(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """Each NLU example's plain text -> the language of the file that holds it."""
    languages: dict[str, str] = {}
    for path in sorted(data_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu") or []:
            for line in str(block.get("examples") or "").splitlines():
                example = line.strip().removeprefix("- ").strip()
                if example:
                    plain = _ENTITY.sub(lambda m: m.group(1) or m.group(2), example)
                    languages[plain] = language_of_file(path)
    return languages


@dataclass(frozen=True)
class Prediction:
    text: str
    intent: str
    predicted: str


def read_predictions(results_dir: Path) -> list[Prediction]:
    """Every test example of every fold, from Rasa's intent_successes/intent_errors.json."""
    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results_dir / name
        if path.exists():
            for row in json.loads(path.read_text(encoding="utf-8")):
                predictions.append(Prediction(row["text"], row["intent"],
                                              row["intent_prediction"]["name"] or ""))
    return predictions


@dataclass(frozen=True)
class Scores:
    examples: int
    accuracy: float
    macro_f1: float
    intents: int


def scores(predictions: list[Prediction]) -> Scores:
    """Accuracy, and F1 averaged over the intents these examples are labelled with
    (a prediction of another intent, or of nlu_fallback, is a false positive of
    nothing and a miss of its target)."""
    targets = Counter(p.intent for p in predictions)
    predicted = Counter(p.predicted for p in predictions)
    hits = Counter(p.intent for p in predictions if p.intent == p.predicted)
    f1s = []
    for intent, n in targets.items():
        precision = hits[intent] / predicted[intent] if predicted[intent] else 0.0
        recall = hits[intent] / n
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    total = len(predictions)
    return Scores(examples=total,
                  accuracy=sum(hits.values()) / total if total else 0.0,
                  macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
                  intents=len(targets))


def by_language(predictions: list[Prediction], languages: dict[str, str]) -> dict[str, Scores]:
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        groups.setdefault(languages.get(p.text, "?"), []).append(p)
    table = {language: scores(group) for language, group in sorted(groups.items())}
    table["all"] = scores(predictions)
    return table


def cross_validate(folds: int, out: Path, echo=print) -> int:
    argv = [str(RASA_BIN), "test", "nlu", "--cross-validation", "--folds", str(folds),
            "--config", "config.yml", "--nlu", "data", "--out", str(out), "--successes"]
    echo(f"Cross-validating the NLU pipeline ({folds} folds: {folds} trainings)…")
    return subprocess.call(argv, cwd=PROJECT_ROOT, env=base_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def run(folds: int, out: Path, report_only: bool, json_output: bool, console) -> int:
    seconds = None
    out = out.resolve()  # Rasa runs in the project root
    if not report_only:
        if not RASA_BIN.exists():
            console.print(f"[red]{RASA_BIN} is missing: run `make setup` first[/red]")
            return 1
        started = time.monotonic()
        code = cross_validate(folds, out, echo=console.print)
        seconds = time.monotonic() - started
        if code != 0:
            console.print(f"[red]rasa test nlu failed (exit {code})[/red]")
            return code
    predictions = read_predictions(out)
    if not predictions:
        console.print(f"[red]no per-example results in {out}[/red]")
        return 1
    table = by_language(predictions, example_languages())
    if json_output:
        print(json.dumps({"folds": folds, "seconds": seconds,
                          "languages": {k: vars(v) for k, v in table.items()}}))
        return 0
    print_table(table, folds, seconds, console)
    return 0


def print_table(table: dict[str, Scores], folds: int, seconds: float | None, console) -> None:
    from rich.table import Table

    took = f", {seconds:.0f} s" if seconds is not None else ""
    out = Table(title="NLU intents by language",
                caption=f"{folds}-fold cross-validation of data/{took}")
    for name in ("language", "examples", "intents", "accuracy", "macro F1"):
        out.add_column(name, justify="left" if name == "language" else "right")
    for language, s in table.items():
        cells = [language, str(s.examples), str(s.intents), f"{s.accuracy:.3f}",
                 f"{s.macro_f1:.3f}"]
        out.add_row(*[f"[bold]{c}[/bold]" if language == "all" else c for c in cells])
    console.print(out)
