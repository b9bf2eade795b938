"""The name actions in the customer's language: German names are parsed, and
what the assistant says comes from the `actions` catalogue in the language the
gateway put in the `language` slot."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.name_actions import ActionRememberName, ActionSayName, parse_name


@pytest.mark.parametrize("text,name", [
    ("ich heiße Anna", "Anna"), ("ich heisse jonas", "Jonas"),
    ("mein Name ist Lena Schmidt", "Lena Schmidt"), ("ich bin der Tobias", "Tobias"),
    ("moin, ich bin Hauke und hab eine Frage", "Hauke"), ("nennen Sie mich Max", "Max"),
    ("Sie können mich Petra nennen", "Petra"), ("hier spricht Jürgen", "Jürgen"),
    ("Stefan hier", "Stefan"), ("ich bin nicht zufrieden", None)])
def test_german_names_are_parsed(text, name):
    assert parse_name(text) == name


def tracker(text: str, **slots) -> Tracker:
    return Tracker("c1", {"language": "en", "customer_name": None, **slots},
                   {"text": text, "intent": {}, "entities": []}, [], False, None, {}, "")


async def said(action, tracker: Tracker) -> tuple[list[str], list]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return [m["text"] for m in dispatcher.messages], events


async def test_the_name_is_remembered_and_said_back_in_german():
    texts, events = await said(ActionRememberName(), tracker("ich heiße Anna", language="de"))
    assert texts == ["Schön, Sie kennenzulernen, Anna! Wie kann ich Ihnen helfen?"]
    assert events == [{"event": "slot", "timestamp": None, "name": "customer_name",
                       "value": "Anna"}]
    texts, _ = await said(ActionSayName(), tracker("wie heiße ich?", language="de",
                                                   customer_name="Anna"))
    assert texts == ["Sie sind Anna! Wie kann ich Ihnen helfen?"]
    texts, _ = await said(ActionSayName(), tracker("wie heiße ich?", language="de"))
    assert texts[0].startswith("Ihren Namen kenne ich noch nicht.")


async def test_english_stays_the_default():
    texts, _ = await said(ActionSayName(), tracker("what's my name?", customer_name="Ada"))
    assert texts == ["You're Ada! How can I help?"]
    texts, _ = await said(ActionRememberName(), tracker("hmm", language=None))
    assert texts[0].startswith("Sorry, I didn't catch your name.")
