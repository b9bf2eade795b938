"""Which Rasa conversation a customer's turn goes to (bot/rasa_store/sessions.py),
against a real Redis: the same one while the customer keeps talking, a new one
after an idle gap, past the size bound or after a resolve; a new one stays "to
carry" until its slots are carried."""

from bot.rasa_store.keys import RASA_KEYS, customer_of_sender, session_sender
from bot.rasa_store.sessions import RasaSessions, SessionRule

RULE = SessionRule(idle_s=3600, max_tracker_bytes=1000)


async def test_a_customer_keeps_their_conversation_until_idle_too_big_or_resolved(redis):
    sessions = RasaSessions(redis, RULE)
    t = 1_000_000.0
    first = await sessions.choose("c_ada", t)
    assert (first.sender, first.previous) == ("c_ada", None)  # as before sessions
    assert (await sessions.choose("c_ada", t + 3000)).sender == "c_ada"

    idle = await sessions.choose("c_ada", t + 3000 + 3601)
    assert (idle.sender, idle.previous) == ("c_ada~1", "c_ada")
    again = await sessions.choose("c_ada", t + 7000)  # carry not done yet: asked again
    assert (again.sender, again.previous) == ("c_ada~1", "c_ada")
    await sessions.carried("c_ada")
    assert (await sessions.choose("c_ada", t + 7001)).previous is None

    await redis.set(RASA_KEYS.rasa_tracker("c_ada~1"), "x" * 1001)  # past the bound
    assert (await sessions.choose("c_ada", t + 7002)).sender == "c_ada~2"
    await sessions.carried("c_ada")

    await sessions.end("c_ada")  # a person resolved the conversation
    assert (await sessions.choose("c_ada", t + 7003)).sender == "c_ada~3"
    assert (await sessions.choose("c_ada", t + 7004)).sender == "c_ada~3"
    assert await sessions.senders("c_ada") == ["c_ada", "c_ada~1", "c_ada~2", "c_ada~3"]


def test_a_sender_names_its_customer():
    assert customer_of_sender(session_sender("c_ada", 4)) == "c_ada"
    assert customer_of_sender(session_sender("c_ada", 0)) == "c_ada"


async def test_a_redis_that_lost_its_scripts_still_chooses_the_session(redis):
    sessions = RasaSessions(redis, RULE)
    assert (await sessions.choose("c_bo", 1_000_000.0)).sender == "c_bo"
    await redis.script_flush()  # as after a restart without persistence
    assert (await sessions.choose("c_bo", 1_000_000.0 + 3601)).sender == "c_bo~1"
    assert (await sessions.choose("c_bo", 1_000_000.0 + 3602)).sender == "c_bo~1"
