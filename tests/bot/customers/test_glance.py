"""A queue card's glance at a customer agrees with the slower reads it replaces."""

from bot.customers.identity import IdentityStore
from bot.customers.merge import Customers
from bot.customers.transcript import TranscriptStore
from core.models import TranscriptEntry


async def test_a_glance_gives_the_name_channels_reply_channel_and_last_question(redis):
    identities, customers = IdentityStore(redis), Customers(redis)
    customer = await identities.resolve("sms", "+15550001111", "Rune")
    await customers.attach(customer, "telegram", "7001", "code")
    await identities.touch(customer, "telegram", "7001")
    transcripts = TranscriptStore(redis)
    for author, text in (("customer", "first"), ("customer", "where is <b>it</b>?"),
                         ("bot", "Here."), ("customer", "   ")):
        await transcripts.append(customer, TranscriptEntry(channel="telegram", author=author,
                                                           text=text))
    glance = await customers.glance(customer)
    assert glance == {
        "display_name": "Rune", "reply_channel": "telegram",
        "identities": [{"channel": i["channel"], "channel_user_id": i["channel_user_id"]}
                       for i in await customers.identities(customer)],
        "last_text": "where is <b>it</b>?"}
    assert glance["reply_channel"] == (await customers.reply_target(customer))[0]
