"""The Slack channel's personal data: where replies to them go, their cached name
and email, and the pressed-button marks in their DM."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from bot.channels.slack.keys import SLACK_KEYS, SlackKeys
from core.personal import Export, Person, covering, delete_matching, glob_literal


class SlackData:
    covers = covering(SlackKeys, "slack_reply_to", "slack_user_name", "slack_user_email",
                      "slack_pressed")

    def __init__(self, redis: Redis, keys: SlackKeys = SLACK_KEYS) -> None:
        self._redis = redis
        self._keys = keys

    async def export(self, person: Person) -> Export:
        return {}

    async def erase(self, person: Person) -> None:
        keys = self._keys
        for user in person.users("slack"):
            reply_to = await self._redis.get(keys.slack_reply_to(user))
            if reply_to:
                dm = json.loads(reply_to).get("channel") or ""
                if dm:
                    await delete_matching(self._redis, keys.slack_pressed(glob_literal(dm), "*"))
            await self._redis.delete(keys.slack_reply_to(user), keys.slack_user_name(user),
                                     keys.slack_user_email(user))
