"""The gateway's message path: inbound stream, router, Rasa client, outbox, and the bridge to handoff."""
