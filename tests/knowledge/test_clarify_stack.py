"""Through the real Rasa server and action server: a clarification the customer
answers by pressing a button leaves the editors' unanswered questions; one
left unpicked stays."""

import pytest

from core.redis import text_client
from tests.bot.gateway.test_stack import Chat

pytestmark = pytest.mark.stack


async def test_a_picked_clarification_is_not_unanswered(stack):
    redis = text_client(stack.effective_redis_url)
    chat = await Chat.open(stack)
    try:
        await chat.say("returns")
        reply = await chat.bot_reply()
        assert len(reply["buttons"]) >= 2
        entry_id, fields = (await redis.xrevrange("fd:{kb}:unanswered", count=1))[0]
        assert fields["outcome"] == "clarify" and fields["query"] == "returns"
        assert await redis.hget("fd:{kb}:unanswered:resolved", entry_id) is None

        await chat.press(reply["buttons"][0])
        answer = await chat.bot_reply()
        how = await redis.hget("fd:{kb}:unanswered:resolved", entry_id)
        assert how == f"picked:{answer['article']['id']}"
    finally:
        await chat.close()
        await redis.aclose()
