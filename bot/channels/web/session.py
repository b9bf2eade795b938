"""Signed web chat session tokens: the token names a visitor, nothing more."""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bot import SessionInvalid


class SessionSigner:
    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="frontdoor.webchat.session")
        self._max_age_s = max_age_s

    def new_token(self) -> str:
        return self._serializer.dumps({"v": "v_" + secrets.token_urlsafe(12)})

    def visitor(self, token: str) -> str:
        """The visitor id inside a valid token, or SessionInvalid."""
        if not token or len(token) > 512:
            raise SessionInvalid("missing or oversized token")
        try:
            data = self._serializer.loads(token, max_age=self._max_age_s)
        except SignatureExpired as exc:
            raise SessionInvalid("session expired") from exc
        except BadSignature as exc:
            raise SessionInvalid("unknown session") from exc
        visitor = data.get("v") if isinstance(data, dict) else None
        if not isinstance(visitor, str):
            raise SessionInvalid("malformed session")
        return visitor
