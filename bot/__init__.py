"""The front door gateway: channel adapters, the router, identity, transcripts,
the outbox and the web chat.

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
