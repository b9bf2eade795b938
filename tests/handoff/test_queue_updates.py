"""Waiting customers hear when their place in the queue improves, sparingly on
SMS, and exactly once however many gateways follow the queue."""

import asyncio

import pytest

from bot.gateway.handoff_bridge import HandoffBridge
from core.settings import HandoffSettings
from handoff.service import HandoffService


class Told:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []


def bridge_for(redis, service: HandoffService, told: Told, channels: dict[str, str]
               ) -> HandoffBridge:
    bridge = HandoffBridge(redis, replies=None, transcripts=None, hub=None, rasa=None,
                           handoff=service, articles=None)

    async def tell(customer_id, text, **_):
        told.messages.append((customer_id, text))

    async def reply_target(customer_id, channel=None):
        return channels[customer_id], "user"

    bridge.tell = tell
    bridge.reply_target = reply_target
    return bridge


@pytest.fixture
async def queue_of_four(redis):
    service = HandoffService(redis, HandoffSettings(position_update_interval_s=0,
                                                    sms_position_update_interval_s=600))
    await service.set_presence("ann", "online")
    tickets = [(await service.escalate(c, ch, "asked_for_human"))[0]
               for c, ch in (("c_1", "web"), ("c_2", "web"), ("c_3", "sms"), ("c_4", "web"))]
    return service, tickets


async def test_positions_are_told_when_they_improve_and_sms_only_sparingly(
        redis, queue_of_four):
    service, tickets = queue_of_four
    told = Told()
    bridge = bridge_for(redis, service, told,
                        {"c_1": "web", "c_2": "web", "c_3": "sms", "c_4": "web"})
    await service.claim(tickets[0].ref, "ann")
    await bridge._update_team("support")
    # c_2 is next now; c_4 moved from 4 to 3; c_3 on SMS moved 3 -> 2 within 10 minutes
    # of being told its position, so it hears nothing yet.
    assert [c for c, _ in told.messages] == ["c_2", "c_4"]
    assert "next in line" in told.messages[0][1]
    await bridge._update_team("support")
    assert len(told.messages) == 2  # nothing changed, nothing said
    await service.claim(tickets[1].ref, "ann")
    await bridge._update_team("support")
    # Next in line is worth an SMS even within the 10 minutes.
    assert ("c_3" in [c for c, _ in told.messages[2:]])
    assert any("next in line" in text for c, text in told.messages[2:] if c == "c_3")


async def test_many_gateways_following_the_queue_tell_each_customer_once(
        redis, queue_of_four):
    service, tickets = queue_of_four
    told = Told()
    channels = {"c_1": "web", "c_2": "web", "c_3": "web", "c_4": "web"}
    bridges = [bridge_for(redis, service, told, channels) for _ in range(3)]
    await service.claim(tickets[0].ref, "ann")
    await asyncio.gather(*(b._update_team("support") for b in bridges))
    customers = [c for c, _ in told.messages]
    assert sorted(customers) == ["c_2", "c_3", "c_4"]
