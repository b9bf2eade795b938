"""`frontdoor bench kb`: answer quality of the product's real answering path
(KnowledgeService.decide: Redis-backed store, embedding index, answer policy) on
any set in the format of ../shared/benchmarks/README.md.

Each article's question variants (all, or K sampled per article with a fixed
seed) are published into a throwaway Redis; the run waits until the learned head
fitted after that publish is in use (its fitting time is reported), then every
query goes through `decide` exactly as a customer message would, and is timed. The answer
threshold sweep for the plot re-applies the same policy function to the ranked
matches each query got. p50/p95 of the per-query time are nearest-rank
percentiles (bot/bench/stats.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bot.bench.stats import finish_axes, p50, p95, pyplot, save_figure
from bot.infra.redis_procs import free_port, start_redis
from core.redis import text_client
from knowledge.answers.policy import Thresholds, decide
from knowledge.models import Article

METRIC_KEYS = ("top1", "answered_correct", "clarified_correct", "clarified_wrong",
               "escalated", "answered_wrong", "oos_not_answered", "p50_ms", "p95_ms")


@dataclass(frozen=True)
class BenchSet:
    name: str
    # {"id": slug, "title": str, "questions": [str, ...], "language": code or None}
    articles: list[dict]
    queries: list[tuple[str, str | None]]  # (text, article slug or None = out of scope)


@dataclass
class QueryResult:
    gold: str | None
    kind: str  # answer / clarify / fallback, from the real decide()
    answered: str | None
    options: tuple[str, ...]
    matches: tuple[tuple[str, float], ...]  # ranked (article id, score)
    ms: float


@dataclass
class SeedRun:
    seed: int | None
    variants: int
    index_build_s: float
    head_fit_s: float
    head: bool  # answers used the learned head (else plain cosine)
    blend: float | None  # share of the head probability in the scores
    thresholds: Thresholds
    results: list[QueryResult] = field(default_factory=list)


def slug(raw: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:80]
    return s or "article"


def seed_article_lines(folder: Path | None = None) -> list[str]:
    """The seed knowledge base as articles.jsonl lines: every language's question
    variants of an article under its id (the index matches them all alike)."""
    from knowledge.articles_io import load_folder

    folder = folder or Path(__file__).resolve().parents[2] / "knowledge" / "articles"
    return [json.dumps({"id": a.id, "title": a.title, "language": a.language,
                        "questions": [q for _, q in a.all_questions()]})
            for a in load_folder(folder)]


def load_set(directory: Path) -> BenchSet:
    """A set without articles.jsonl is asked against the seed knowledge base
    (knowledge/articles), so a regression set never holds a stale copy of it."""
    directory = Path(directory)
    articles: list[dict] = []
    ids: dict[str, str] = {}
    article_file = directory / "articles.jsonl"
    lines = (article_file.read_text().splitlines() if article_file.exists()
             else seed_article_lines())
    for line in lines:
        if not line.strip():
            continue
        raw = json.loads(line)
        s, n = slug(raw["id"]), 2
        while s in ids.values():
            s, n = f"{slug(raw['id'])[:75]}-{n}", n + 1
        ids[raw["id"]] = s
        # Any language, as in the product: matching does not need to know it.
        # An optional "language" only labels the article (Article.language).
        articles.append({"id": s, "title": (raw.get("title") or raw["id"])[:200],
                         "questions": list(raw["questions"]), "language": raw.get("language")})
    queries = []
    for line in (directory / "queries.jsonl").read_text().splitlines():
        if line.strip():
            raw = json.loads(line)
            gold = raw.get("article")
            queries.append((raw["text"], None if gold is None else ids[gold]))
    return BenchSet(directory.name, articles, queries)


def sample_articles(bench: BenchSet, shots: int | None, seed: int | None) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for a in bench.articles:
        questions = list(dict.fromkeys(q.strip() for q in a["questions"] if q.strip()))
        if shots is not None and len(questions) > shots:
            questions = rng.sample(questions, shots)
        language = {"language": a["language"]} if a.get("language") else {}
        out.append(Article(id=a["id"], title=a["title"], questions=tuple(questions),
                           answer=a["title"], updated_by="bench", **language))
    return out


# -- the real answering path -------------------------------------------------------

async def run_seed(redis_url: str, embedder, settings, bench: BenchSet, shots: int | None,
                   seed: int | None) -> SeedRun:

    from knowledge.answers.service import KnowledgeService

    redis = text_client(redis_url)
    try:
        await redis.flushdb()
        # only the benchmark's articles: no seed articles
        service = KnowledgeService(redis, embedder,
                                   settings.model_copy(update={"articles_dir": None}))
        articles = sample_articles(bench, shots, seed)
        for article in articles:
            await service.store.save(article, expected_version=None, author="bench")
        started = time.perf_counter()
        index = await service.ensure_fresh()
        built = time.perf_counter()
        head = await service.learned()
        # the policy most of the set's questions get (English ones have a head of their own)
        english = embedder.english([text for text, _ in bench.queries])
        fitted, thresholds = service.fitted_for(
            english=english is not None and bool(english.mean() >= 0.5))
        run = SeedRun(seed, len(index), built - started, time.perf_counter() - built, head,
                      fitted.blend if fitted is not None else None, thresholds)
        for text, gold in bench.queries:
            t0 = time.perf_counter()
            d = await service.decide(text)
            ms = (time.perf_counter() - t0) * 1000
            run.results.append(QueryResult(
                gold=gold, kind=d.kind,
                answered=d.article.id if d.kind == "answer" and d.article else None,
                options=tuple(o.article_id for o in d.options),
                matches=tuple((m.article_id, m.score) for m in d.matches), ms=ms))
        await redis.flushdb()
        return run
    finally:
        await redis.aclose()


def outcome(r: QueryResult, t: Thresholds | None = None) -> tuple[str, str | None, tuple[str, ...]]:
    """(kind, answered article, clarify options): the recorded decision, or the
    policy re-applied to the recorded matches with other thresholds."""
    if t is None:
        return r.kind, r.answered, r.options
    from knowledge.models import Match

    ms = [Match(article_id=a, title=a, score=s, question="") for a, s in r.matches]
    d = decide("", ms, t)
    return d.kind, (d.matches[0].article_id if d.kind == "answer" else None), \
        tuple(o.article_id for o in d.options)


def metrics(results: list[QueryResult], t: Thresholds | None = None) -> dict:
    ins = [r for r in results if r.gold is not None]
    oos = [r for r in results if r.gold is None]
    counts = dict.fromkeys(("ac", "aw", "aw_in", "cc", "cw", "esc", "oos_ok"), 0)
    top1 = 0
    for r in results:
        kind, answered, options = outcome(r, t)
        if r.gold is None:
            counts["aw"] += kind == "answer"
            counts["oos_ok"] += kind != "answer"
            continue
        top1 += bool(r.matches) and r.matches[0][0] == r.gold
        if kind == "answer":
            counts["ac"] += answered == r.gold
            counts["aw"] += answered != r.gold
            counts["aw_in"] += answered != r.gold
        elif kind == "clarify":
            counts["cc" if r.gold in options else "cw"] += 1
        else:
            counts["esc"] += 1
    n_in = len(ins) or 1
    ms = [r.ms for r in results]
    return {
        "top1": top1 / n_in,
        "answered_correct": counts["ac"] / n_in,
        "clarified_correct": counts["cc"] / n_in,
        "clarified_wrong": counts["cw"] / n_in,
        "escalated": counts["esc"] / n_in,
        "answered_wrong": counts["aw"] / (len(results) or 1),
        "oos_not_answered": counts["oos_ok"] / len(oos) if oos else None,
        "p50_ms": p50(ms) if ms else None,
        "p95_ms": p95(ms) if ms else None,
        "answered_wrong_in_scope": counts["aw_in"] / n_in,
    }


def sweep(results: list[QueryResult], base: Thresholds) -> list[dict]:
    """Answer threshold from 0.30 to 0.95 (clarify threshold capped at it)."""
    points = []
    for a in np.round(np.arange(0.30, 0.951, 0.01), 2):
        t = Thresholds(float(a), min(base.clarify, float(a)), base.margin, base.max_options)
        m = metrics(results, t)
        points.append({"answer_threshold": float(a), "answered_wrong": m["answered_wrong"],
                       "resolved": m["answered_correct"] + m["clarified_correct"]})
    return points


def mean_of(dicts: list[dict], key: str):
    values = [d[key] for d in dicts if d.get(key) is not None]
    return statistics.fmean(values) if values else None


# -- orchestration -------------------------------------------------------------------

@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """redis-server on a free port, no persistence, in a temporary directory;
    yields its URL (db 0) and stops it afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-kb-redis-") as workdir:
        server = start_redis(free_port(), Path(workdir))
        try:
            yield f"{server.url}/0"
        finally:
            server.stop()


def evaluate(directory: Path, shots: int | None = None, seeds: list[int] | None = None,
             redis_url: str | None = None, embedder=None, settings=None,
             plot: Path | None = None) -> dict:
    """Run the set; return the summary (means over seeds) with per-seed figures."""
    from core.settings import get_settings
    from knowledge.answers.embedder import Embedder

    started = time.perf_counter()
    settings = settings or get_settings().knowledge
    bench = load_set(directory)
    seeds = seeds or [0]
    if shots is None:
        seeds = seeds[:1]  # all variants: the seed changes nothing
    embedder = embedder or Embedder(settings.model_path(), encoders=settings.embedding_encoders)

    async def go(url: str) -> list[SeedRun]:
        return [await run_seed(url, embedder, settings, bench, shots, s) for s in seeds]

    if redis_url:
        runs = asyncio.run(go(redis_url))
    else:
        with throwaway_redis() as url:
            runs = asyncio.run(go(url))

    per_seed = []
    for run in runs:
        m = metrics(run.results)
        per_seed.append({"seed": run.seed if shots is not None else None,
                         "variants": run.variants,
                         "index_build_s": round(run.index_build_s, 2),
                         "head": run.head, "head_fit_s": round(run.head_fit_s, 2),
                         "blend": run.blend,
                         "thresholds": asdict(run.thresholds), **m})
    curves = [sweep(run.results, run.thresholds) for run in runs]
    curve = [{"answer_threshold": pts[0]["answer_threshold"],
              "answered_wrong": statistics.fmean(p["answered_wrong"] for p in pts),
              "resolved": statistics.fmean(p["resolved"] for p in pts)}
             for pts in zip(*curves, strict=True)]
    n_oos = sum(1 for _, g in bench.queries if g is None)
    summary = {
        "set": bench.name, "articles": len(bench.articles), "encoders": embedder.name,
        "variants": mean_of(per_seed, "variants"),
        "queries": len(bench.queries), "in_scope": len(bench.queries) - n_oos,
        "out_of_scope": n_oos, "shots": shots,
        "seeds": seeds if shots is not None else None,
        "thresholds": {k: mean_of([p["thresholds"] for p in per_seed], k)
                       for k in ("answer", "clarify", "margin", "max_options", "lead")},
        "head": all(run.head for run in runs),
        "head_fit_s": mean_of(per_seed, "head_fit_s"),
        **{k: mean_of(per_seed, k) for k in (*METRIC_KEYS, "answered_wrong_in_scope")},
        "per_seed": per_seed,
        "sweep": curve,
    }
    if plot is not None:
        write_plot(curve, summary, plot)
        summary["plot"] = str(plot)
    summary["elapsed_s"] = round(time.perf_counter() - started, 1)
    return summary


def write_plot(curve: list[dict], summary: dict, path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(7, 5))
    xs = [p["answered_wrong"] for p in curve]
    ys = [p["resolved"] for p in curve]
    ax.plot(xs, ys, marker=".", label="answer threshold 0.30 … 0.95")
    for p in curve[::10]:
        ax.annotate(f"{p['answer_threshold']:.2f}", (p["answered_wrong"], p["resolved"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.scatter([summary["answered_wrong"]],
               [summary["answered_correct"] + summary["clarified_correct"]],
               color="red", zorder=3,
               label=f"default policy (answer ≥ {summary['thresholds']['answer']:.2f})")
    shots = f", {summary['shots']} variants/article" if summary["shots"] else ", all variants"
    finish_axes(ax, "answered wrongly (share of all queries)",
                "resolved: answered + clarified correctly (share of in-scope)",
                title=f"{summary['set']}{shots} ({summary['encoders']})", legend_loc="best")
    save_figure(fig, path)


def default_plot_path(directory: Path, shots: int | None) -> Path:
    suffix = f"-{shots}shot" if shots is not None else ""
    return Path("bench-results") / f"kb-{Path(directory).name}{suffix}.png"


def print_table(summary: dict, console) -> None:
    from rich.table import Table

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    def msf(v):
        return "—" if v is None else f"{v:.1f}"

    shots = "all" if summary["shots"] is None else str(summary["shots"])
    table = Table(title=f"Knowledge answers: {summary['set']} ({summary['articles']} articles, "
                        f"{shots} variants/article, {summary['queries']} queries, "
                        f"{summary['out_of_scope']} out of scope)")
    table.add_column("seed")
    table.add_column("variants", justify="right")
    for name in ("top-1", "answered ✓", "clarified ✓", "clarified ✗", "escalated",
                 "answered ✗ (all)", "OOS not answered", "p50 ms", "p95 ms"):
        table.add_column(name, justify="right")

    def row(label, d, bold=False):
        cells = [label, f"{d['variants']:.0f}", pct(d["top1"]), pct(d["answered_correct"]),
                 pct(d["clarified_correct"]), pct(d["clarified_wrong"]), pct(d["escalated"]),
                 pct(d["answered_wrong"]), pct(d["oos_not_answered"]), msf(d["p50_ms"]),
                 msf(d["p95_ms"])]
        table.add_row(*[f"[bold]{c}[/bold]" if bold else c for c in cells])

    if len(summary["per_seed"]) > 1:
        for d in summary["per_seed"]:
            row(str(d["seed"]), d)
    row("mean" if len(summary["per_seed"]) > 1 else "—", summary, bold=True)
    console.print(table)
    t = summary["thresholds"]
    scoring = (f"cosine blended with the learned head (fitted in {summary['head_fit_s']:.1f} s"
               f" after publish; thresholds fitted on held-out variants)" if summary["head"]
               else "cosine of the best variant")
    console.print(f"Scores: {scoring}; encoders {summary['encoders']}.")
    lead = f" or leading by ≥ {t['lead']:.2f}" if t.get("lead", 1.0) < 1.0 else ""
    console.print(f"Policy: answer ≥ {t['answer']:.2f}{lead}, clarify ≥ {t['clarify']:.2f}, margin "
                  f"{t['margin']:.2f}. Shares of in-scope queries except 'answered ✗ (all)' "
                  f"(all queries) and 'OOS not answered' (out-of-scope queries).")
    if summary.get("plot"):
        console.print(f"Plot: {summary['plot']}  ({summary['elapsed_s']} s)")


def run(directory: Path, shots: int | None, seeds: list[int], json_output: bool, console,
        plot: Path | None = None, **kwargs) -> int:
    summary = evaluate(directory, shots=shots, seeds=seeds,
                       plot=plot or default_plot_path(directory, shots), **kwargs)
    if json_output:
        print(json.dumps(summary))
    else:
        print_table(summary, console)
    return 0
