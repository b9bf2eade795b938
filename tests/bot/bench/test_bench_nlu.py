"""`frontdoor bench nlu`: each cross-validation example's language comes from
its file, and the per-language scores are accuracy and macro F1."""

import json

import pytest

from bot.bench.nlu import Prediction, by_language, example_languages, read_predictions, scores


def test_examples_take_the_language_of_their_file():
    languages = example_languages()
    assert languages["Wo ist meine Bestellung?"] == "de"
    assert languages["Ich möchte mit einem Menschen sprechen"] == "de"
    assert languages["where is my order"] == "en"
    assert languages["choose article returns-policy"] == "en"  # entity markup removed


def test_scores_per_language_and_for_both(tmp_path):
    rows = [("hallo", "greet", "greet"), ("tschüss", "goodbye", "greet"),
            ("hi", "greet", "greet"), ("bye", "goodbye", "goodbye")]
    (tmp_path / "intent_successes.json").write_text(json.dumps(
        [{"text": t, "intent": i, "intent_prediction": {"name": p, "confidence": 1.0}}
         for t, i, p in rows if i == p]))
    (tmp_path / "intent_errors.json").write_text(json.dumps(
        [{"text": t, "intent": i, "intent_prediction": {"name": p, "confidence": 0.6}}
         for t, i, p in rows if i != p]))
    predictions = read_predictions(tmp_path)
    assert len(predictions) == 4
    table = by_language(predictions, {"hallo": "de", "tschüss": "de", "hi": "en", "bye": "en"})
    assert table["en"].accuracy == 1.0 and table["en"].macro_f1 == 1.0
    assert table["de"].accuracy == 0.5
    # greet: precision 1/2, recall 1 -> 2/3; goodbye: never predicted -> 0
    assert table["de"].macro_f1 == pytest.approx(1 / 3)
    assert table["all"].examples == 4


def test_no_examples_score_zero():
    assert scores([]).accuracy == 0.0
    assert scores([Prediction("x", "greet", "nlu_fallback")]).macro_f1 == 0.0
