"""What a queue card says of the customer (handoff/cards.py): readable reasons,
handles per channel, the last question clipped."""

from handoff.cards import card, clip, handle, mask_phone, reason_label
from handoff.models import Summary, Ticket


def ticket(**changes) -> Ticket:
    return Ticket(**{"ref": "FD-AAAA", "customer_id": "c_1", "status": "queued",
                     "reason": "asked_for_human", "team": "support", "channel": "web",
                     "created_at": 1.0, "sla_due_at": 2.0, **changes})


def test_every_reason_the_product_records_reads_as_words():
    assert reason_label("asked_for_human") == "Asked for a person"
    assert reason_label("repeated_fallback") == "The assistant could not answer"
    assert reason_label("negative_sentiment") == "Upset customer"
    assert reason_label("topic:cancellation") == "Needs a person: Cancellation"
    assert reason_label("topic:late_delivery") == "Needs a person: Late delivery"
    assert reason_label("something_new") == "Something new"


def test_a_phone_is_masked_and_each_channel_has_a_handle():
    assert mask_phone("+4915112345678") == "+49 ••• 5678"
    assert handle("sms", "+15551230002") == "+15 ••• 0002"
    assert handle("web", "visitor-1") == "Web visitor"
    assert handle("telegram", "7001", "Tove") == "Tove"
    assert handle("telegram", "7001") == "Telegram user"
    assert handle("slack", "U1", "Sam Rivera") == "Sam Rivera"


def test_the_last_question_is_one_line_clipped_at_a_word():
    assert clip("where  is\nmy parcel") == "where is my parcel"
    long = clip("word " * 100, 40)
    assert len(long) <= 40 and long.endswith("…") and not long.endswith(" …")


def test_a_card_names_the_customer_or_their_handle_and_lists_every_channel():
    facts = {"display_name": "", "last_channel": "telegram", "last_text": "  hi <b>x</b> ",
             "identities": [{"channel": "sms", "channel_user_id": "+447700900123"},
                            {"channel": "telegram", "channel_user_id": "7001"}]}
    shown = card(ticket(channel="sms", display_name="Maja"), facts)
    assert shown == {"name": "Maja", "handle": "", "channels": ["telegram", "sms"],
                     "reason_label": "Asked for a person", "last_text": "hi <b>x</b>"}
    anonymous = card(ticket(channel="sms", summary=Summary(last_customer_text="stop it")),
                     {"identities": [{"channel": "sms", "channel_user_id": "+447700900123"}]})
    assert anonymous["name"] == "+44 ••• 0123" and anonymous["last_text"] == "stop it"
