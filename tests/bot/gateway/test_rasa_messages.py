from bot.gateway.rasa_client import parse_rasa_messages


def test_custom_note_is_folded_into_the_message_it_follows():
    raw = [
        {"recipient_id": "c", "text": "You can return items within **30 days**."},
        {"recipient_id": "c", "custom": {"frontdoor": {
            "decision": "answer", "article": {"id": "return-policy", "version": 3, "title": "R"}}}},
    ]
    [message] = parse_rasa_messages(raw)
    assert message.text.startswith("You can return")
    assert message.article.id == "return-policy" and message.article.version == 3
    assert message.decision == "answer"


def test_buttons_survive_and_unknown_items_are_ignored():
    raw = [
        {"recipient_id": "c", "text": "Which one?",
         "buttons": [{"title": "Returns", "payload": "/choose_article{\"article_id\":\"r\"}"}]},
        {"recipient_id": "c", "custom": {"something": "else"}},
    ]
    [message] = parse_rasa_messages(raw)
    assert [b.title for b in message.buttons] == ["Returns"]


def test_paragraphs_rasa_split_apart_are_one_message_again():
    raw = [
        {"recipient_id": "c", "text": "We accept:"},
        {"recipient_id": "c", "text": "- **Visa**\n- **PayPal**"},
        {"recipient_id": "c", "text": "Cash is not accepted."},
        {"recipient_id": "c", "custom": {"frontdoor": {
            "decision": "answer", "article": {"id": "payment-methods", "version": 1}}}},
        {"recipient_id": "c", "text": "Anything else?", "buttons": [{"title": "No",
                                                                      "payload": "/deny"}]},
    ]
    first, second = parse_rasa_messages(raw)
    assert first.text == "We accept:\n\n- **Visa**\n- **PayPal**\n\nCash is not accepted."
    assert first.article.id == "payment-methods"
    assert second.text == "Anything else?" and second.buttons
