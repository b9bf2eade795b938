"""The web chat widget's own labels (the `widget` catalogue): the server hands
the widget a table per language (routes.py puts them in front of widget.js),
so widget.js holds no English of its own and can switch language without a
reload when the customer's language changes.

Keys are what widget.js asks for (`t('send')`); values are the English text,
the msgid. Placeholders are `{name}`, filled in by widget.js.
"""

from __future__ import annotations

import json

from core.i18n import LANGUAGES, N_, translator

LABELS: dict[str, str] = {
    "title": N_("Brightside — Chat with us"),
    "avatar": N_("B"),
    "author_customer": N_("You"),
    "author_bot": N_("Brightside assistant"),
    "author_agent": N_("Support agent"),
    "author_system": N_("Notice"),
    "open_chat": N_("Open chat"),
    "close_chat": N_("Close chat"),
    "close": N_("Close"),
    "unread_one": N_("Open chat ({count} new message)"),
    "unread_many": N_("Open chat ({count} new messages)"),
    # The header says who the customer is talking to (a "state" frame from the server).
    "status_assistant": N_("Assistant · replies right away"),
    "status_queued": N_("Waiting for a person — you're number {position}"),
    "status_queued_next": N_("Waiting for a person — you're next"),
    "status_waiting": N_("Waiting for a person"),
    "status_agent": N_("{agent} from {team}"),
    "status_closed": N_("We're closed — we'll reply here"),
    "status_connecting": N_("Connecting…"),
    "status_reconnecting": N_("Reconnecting…"),
    "dismiss_notice": N_("Dismiss notice"),
    "conversation": N_("Conversation"),
    "typing": N_("Brightside is typing"),
    "your_message": N_("Your message"),
    "placeholder": N_("Type your message…"),
    "send_message": N_("Send message"),
    "send": N_("Send"),
    "hint": N_("Enter to send · Shift+Enter for a new line"),
    "help_article": N_("Help article"),
    "suggested_replies": N_("Suggested replies"),
    "via": N_("via {channel}"),
    "state_queued": N_("Waiting for connection…"),
    "state_sent": N_("Sending…"),
    "state_acked": N_("Sent"),
    "state_failed": N_("Not sent"),
    "retry": N_("Retry"),
    "too_long": N_("Your message is too long. Please keep it under {max} characters."),
    "too_long_count": N_("Your message is too long: {count} of {max} characters. "
                         "Please shorten it."),
    "error": N_("Something went wrong. Please try again."),
    "language": N_("Language"),
    "greeting": N_("Hi! I'm the Brightside assistant. Ask me anything, or pick a topic:"),
    "suggested_topics": N_("Suggested topics"),
}


def labels(language: str) -> dict[str, str]:
    """The label table in one language."""
    gettext = translator("widget", language).gettext
    return {key: gettext(english) for key, english in LABELS.items()}


def widget_config(language: str) -> str:
    """The script that goes in front of widget.js (inside its private scope):
    every language's table and the one to start with."""
    config = {"language": language, "labels": {code: labels(code) for code in LANGUAGES}}
    # "</" could end an inline <script>; none of our texts has it, but be safe.
    payload = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    return f"globalThis.FrontDoorWidgetConfig = {payload};\n"
