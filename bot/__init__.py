"""The gateway process: its app factory (bot/app.py) and sub-packages, one per
responsibility: gateway/ (inbound stream, router, Rasa client, outbox, handoff
bridge), customers/ (identity, transcript, linking, merge, privacy),
channels/ (the adapter protocol; telegram/, slack/, sms/, web/), rendering/,
infra/ (stream workers, live fan-out, metrics, supervisor), cli/ and bench/.
docs/architecture.md#parts says what each holds.

Exceptions::

    FrontDoorError
    ├── BadInput             a customer message or frame that cannot be accepted
    ├── SessionInvalid       a web chat session token that is forged, expired or unknown
    └── AssistantUnavailable Rasa or the action server cannot answer right now
"""


class FrontDoorError(Exception):
    """Root of every error raised by the bot package."""


class BadInput(FrontDoorError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SessionInvalid(FrontDoorError):
    pass


class AssistantUnavailable(FrontDoorError):
    pass
