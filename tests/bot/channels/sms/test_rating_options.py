"""On SMS the rating buttons are numbered by their own score: texting "5" after
"How did we do?" gives five stars, not the fifth option (one star)."""

from bot.channels.sms.parse import to_inbound
from bot.channels.sms.render import numbered_options, option_numbers
from bot.gateway.handoff_bridge import csat_buttons
from core.models import Button


def test_the_rating_options_are_numbered_by_their_score():
    titles = [b.title for b in csat_buttons("en")]
    assert option_numbers(titles) == [5, 4, 3, 2, 1]
    assert numbered_options(titles) == ("Reply 5 for ***** Excellent, 4 for **** Good, "
                                        "3 for *** Okay, 2 for ** Poor or 1 for * Bad.")


def test_texting_5_to_the_rating_options_presses_five_stars():
    options = [Button(title=b.title, payload=b.payload) for b in csat_buttons("de")]
    message = to_inbound({"MessageSid": "SM1", "From": "+15550000001", "Body": "5"}, options)
    assert message.button_payload == '/csat{"score":5}'
    message = to_inbound({"MessageSid": "SM2", "From": "+15550000001", "Body": "1"}, options)
    assert message.button_payload == '/csat{"score":1}'


def test_other_options_keep_their_order():
    titles = ["Track your order", "2 for 1 offers", "Returns"]
    assert option_numbers(titles) == [1, 2, 3]
    options = [Button(title=t, payload=f"/p{i}") for i, t in enumerate(titles)]
    message = to_inbound({"MessageSid": "SM3", "From": "+15550000001", "Body": "2"}, options)
    assert message.button_payload == "/p1"
