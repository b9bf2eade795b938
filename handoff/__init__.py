"""Human handoff: escalation tickets, the agent queue and the agent console.

Exceptions: HandoffError
  ├── TicketNotFound
  ├── TicketStateError     the ticket is not in a state that allows this (e.g. already claimed)
  ├── AtCapacity           the agent already holds their maximum of conversations
  └── UnknownTeam
"""


class HandoffError(Exception):
    """Root of the handoff errors."""


class TicketNotFound(HandoffError):
    pass


class TicketStateError(HandoffError):
    pass


class AtCapacity(HandoffError):
    pass


class UnknownTeam(HandoffError):
    pass
