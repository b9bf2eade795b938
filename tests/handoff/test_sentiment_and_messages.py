"""Pure parts of the handoff: sentiment trigger, what the customer is told,
and business hours."""

from datetime import UTC, datetime

from handoff.messages import escalation_text, update_text
from handoff.models import QueueStanding, Ticket
from handoff.sentiment import is_negative
from handoff.teams import Team, is_open, next_opening


def test_only_clearly_negative_messages_count_as_negative():
    assert is_negative("This is absolutely terrible, I am furious", -0.6)
    assert is_negative("your service is useless and I hate it", -0.6)
    assert not is_negative("where is my order?", -0.6)
    assert not is_negative("my parcel is late", -0.6)
    assert not is_negative("", -0.6)


def _ticket(**extra) -> Ticket:
    return Ticket(ref="FD-7K2Q", customer_id="c_a", status="queued", reason="x", team="t",
                  channel="sms", created_at=0, sla_due_at=0, **extra)


TEAM = Team(name="t", timezone="Europe/London",
            hours={d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")})


def test_the_customer_is_told_reference_position_and_wait():
    text = escalation_text(_ticket(), QueueStanding(ref="FD-7K2Q", position=3,
                                                     expected_wait_s=250, team_open=True,
                                                     agents_online=2), TEAM)
    assert "FD-7K2Q" in text and "number 3 in the queue" in text and "about 4 minutes" in text
    assert "next in line" in update_text(QueueStanding(
        ref="FD-7K2Q", position=1, expected_wait_s=30, team_open=True, agents_online=1))


def test_outside_hours_the_customer_learns_when_we_open_in_the_team_time_zone():
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert not is_open(TEAM, saturday)
    opens = next_opening(TEAM, saturday)
    assert opens.isoformat() == "2026-11-30T09:00:00+00:00"
    text = escalation_text(_ticket(), QueueStanding(
        ref="FD-7K2Q", position=1, expected_wait_s=None, team_open=False, agents_online=0,
        opens_at=opens.timestamp()), TEAM)
    assert "closed right now" in text and "Monday 09:00 (London time)" in text


def test_nobody_online_means_a_promise_not_a_wait():
    text = escalation_text(_ticket(), QueueStanding(
        ref="FD-7K2Q", position=1, expected_wait_s=None, team_open=True, agents_online=0), TEAM)
    assert "Nobody is available" in text and "FD-7K2Q" in text


def test_business_hours_respect_the_team_time_zone_and_holidays():
    ny = Team(name="ny", timezone="America/New_York", hours={"mon": "09:00-17:00"},
              holidays=("2026-11-30",))
    # Monday 14:00 UTC is 09:00 in New York, but that Monday is a holiday.
    assert not is_open(ny, datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
    assert is_open(ny, datetime(2026, 12, 7, 14, 0, tzinfo=UTC))
    assert not is_open(ny, datetime(2026, 12, 7, 13, 59, tzinfo=UTC))
