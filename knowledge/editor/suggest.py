"""Which article an unanswered group most likely belongs to — or none.

The suggestion is what the assistant itself would do with the question: the
same encoders, the same head and the same thresholds (KnowledgeService.decide,
not recorded). An article is suggested only when its score reaches the
assistant's clarify threshold, the score at which the assistant would at least
offer it as a button; below it the editor is shown no suggestion rather than a
wrong one (the list then starts at "Choose an article").

Typo-heavy questions ("hw do i retrn somthing i dont lik") fell back because
their words are not words; they are asked a second time with each unknown word
of four letters or more replaced by the closest word of the knowledge base's
own vocabulary (difflib, similarity ≥ 0.8: "retrn" -> "return", "parcle" ->
"parcel"), and the better of the two decisions counts. Short words are left
alone ("dog" is not "do"), and so is anything with no close word.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.answers.service import KnowledgeService
from knowledge.answers.spelling import Vocabulary
from knowledge.models import Match

__all__ = ["Suggestion", "Vocabulary", "suggest"]


@dataclass(frozen=True)
class Suggestion:
    match: Match
    asked_as: str  # the wording scored (the corrected one when that scored better)


async def suggest(service: KnowledgeService, vocabulary: Vocabulary, question: str
                  ) -> Suggestion | None:
    """The article the assistant would at least offer for `question`, or None."""
    threshold = service.thresholds.clarify
    best: Suggestion | None = None
    # The corrected wording first: the assistant's own decision corrects typos
    # too (knowledge/answers/spelling.py), so on a tie it is the reading that won.
    for wording in dict.fromkeys([vocabulary.correct(question), question]):
        decision = await service.decide(wording, record=False)
        if decision.matches and (best is None or decision.matches[0].score > best.match.score):
            best = Suggestion(decision.matches[0], wording)
    return best if best is not None and best.match.score >= threshold else None
