"""The editor's pure parts for issue 16: word diffs, what goes live, relevance
and typo correction."""

from knowledge.editor.changes import live_change, word_diff
from knowledge.editor.relevance import search
from knowledge.editor.suggest import Vocabulary
from knowledge.models import Article, ArticleText

A = Article(id="a", title="Refunds", questions=("money back",), answer="We refund in 5 days.",
            status="published")


def test_a_word_diff_keeps_the_text_and_marks_only_what_changed():
    segments = word_diff("We refund in 5 days.", "We refund in 3 working days.")
    assert segments == [{"op": "same", "text": "We refund in "}, {"op": "del", "text": "5"},
                        {"op": "add", "text": "3 working"}, {"op": "same", "text": " days."}]
    assert "".join(s["text"] for s in segments if s["op"] != "del") == \
        "We refund in 3 working days."


def test_what_goes_live_names_the_languages_and_ignores_drafts():
    german = A.model_copy(update={"translations": {"de": ArticleText(
        title="Erstattungen", questions=("Geld zurück",), answer="In 5 Tagen.")}})
    change = live_change(A, german)
    assert change["kind"] == "changed" and change["language_states"] == {"de": "added"}
    draft = A.model_copy(update={"status": "draft", "id": "b"})
    assert live_change(None, draft)["kind"] == "none"
    assert live_change(A, A)["kind"] == "none"  # a rollback to the same words
    assert live_change(A, A.model_copy(update={"status": "archived"}))["kind"] == "removed"


def test_a_title_word_outranks_an_answer_word_and_markup_stays_text():
    attack = Article(id="x", title="Other", questions=("q",),
                     answer='<img src=x onerror="alert(1)"> payment details')
    title = Article(id="p", title="Payment methods", questions=("how to pay",), answer="Cards.")
    hits = search([attack, title], "payment")
    assert [h.article.id for h in hits] == ["p", "x"]
    why = hits[1].why[0]
    assert why.text.startswith("<img") and why.where == "answer"
    assert [why.text[s:e] for s, e in why.marks] == ["payment"]


def test_typos_are_read_as_the_closest_words_of_the_knowledge_base():
    vocabulary = Vocabulary([Article(id="r", title="Return something", questions=("how do I "
                                     "return my parcel",), answer="Like this.")])
    assert vocabulary.correct("hw do i retrn my parcle") == "hw do i return my parcel"
    assert vocabulary.correct("my dog ate it") == "my dog ate it"  # short words stay
