"""Where the question is in a message that carries more (a greeting, thanks, a
yes or no), and which offer of a person a customer who keeps missing reads."""

from rasa_sdk import Tracker

from actions.handover_offer import offer_reply, offered_for, person_was_offered
from actions.question_in_message import candidates


def texts(message: str) -> list[str]:
    return [c.text for c in candidates(message)]


def test_a_short_greeting_thanks_or_no_in_front_is_cut_off_as_well():
    assert texts("Hi! where is my order?") == ["Hi! where is my order?", "where is my order?"]
    assert texts("no, I meant the delivery cost")[1] == "I meant the delivery cost"
    assert texts("ok great. can I pay with paypal?")[1] == "can I pay with paypal?"
    assert texts("Hallo, wo bleibt mein Paket?")[1] == "wo bleibt mein Paket?"
    assert texts("where is my order? thanks")[1] == "where is my order"


def test_a_pure_pleasantry_or_a_long_first_clause_is_asked_whole_only():
    assert texts("hello") == ["hello"]
    assert texts("thank you so much!") == ["thank you so much!"]
    long = "I ordered a sofa, a table and two chairs, but only the sofa came"
    assert texts(long) == [long]


def test_repeated_misses_alternate_the_offer_and_keep_both_buttons():
    first, second, third = (offer_reply(n, "en") for n in range(3))
    assert first.text.startswith("I couldn't find that. Shall I pass you to a person")
    assert second.text != first.text and third.text == first.text
    assert [b["title"] for b in first.buttons] == ["Talk to a person", "I'll rephrase"]
    assert [b["payload"] for b in second.buttons] == ["/request_human", "/rephrase"]
    assert first.note == {"decision": "fallback", "offer": True}


def test_the_offer_in_german():
    offer = offer_reply(0, "de")
    assert offer.text.startswith("Dazu habe ich nichts gefunden. Soll ich Sie mit einem Menschen")
    assert [b["title"] for b in offer.buttons] == ["Mit einem Menschen sprechen",
                                                    "Ich formuliere um"]
    assert offer_reply(1, "de").text.startswith("Darauf habe ich leider immer noch keine")


def tracker(*bot_notes: dict | None) -> Tracker:
    events = []
    for note in bot_notes:
        events.append({"event": "user", "text": "x"})
        data = {"custom": {"frontdoor": note}} if note is not None else {}
        events.append({"event": "bot", "text": "y", "data": data})
    events.append({"event": "user", "text": "yes"})
    return Tracker("c1", {}, {}, events, False, None, {}, "action_listen")


def test_a_yes_answers_the_offer_only_right_after_it():
    assert person_was_offered(tracker({"decision": "fallback", "offer": True}))
    assert not person_was_offered(tracker({"decision": "fallback", "offer": True},
                                          {"decision": "answer"}))
    assert not person_was_offered(tracker({"decision": "fallback", "offer": True}, None))
    assert not person_was_offered(tracker())


def test_accepting_the_offer_hands_over_the_question_it_followed():
    offered = Tracker("c1", {}, {}, [
        {"event": "user", "text": "explain quantum chromodynamics to my cat"},
        {"event": "bot", "text": "Shall I…", "data": {"custom": {"frontdoor": {"offer": True}}}},
        {"event": "user", "text": "/request_human"},
    ], False, None, {}, "action_listen")
    assert offered_for(offered) == "explain quantum chromodynamics to my cat"
    assert offered_for(tracker({"decision": "answer"})) is None  # no offer: nothing handed
    assert offered_for(tracker()) is None
