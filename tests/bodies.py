"""A request body that records how much of it the server pulled: for tests that
a body is refused after reading at most its limit (or before reading it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

CHUNK = 16 * 1024


class CountingBody:
    """`total` bytes of `fill` (after `prefix`), streamed chunk by chunk; `pulled`
    is how many bytes the receiver asked for so far. Sent with httpx's
    `content=`, it goes out chunked (no Content-Length unless one is set)."""

    def __init__(self, total: int, prefix: bytes = b"", fill: bytes = b"a",
                 suffix: bytes = b"") -> None:
        self.total, self.prefix, self.fill, self.suffix = total, prefix, fill, suffix
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        data_left = self.total
        pieces = [self.prefix]
        while data_left > 0 or pieces:
            if pieces:
                chunk = pieces.pop()
            else:
                chunk = self.fill * (min(CHUNK, data_left) // len(self.fill) or 1)
                data_left -= len(chunk)
                if data_left <= 0:
                    pieces.append(self.suffix)
            if chunk:
                self.pulled += len(chunk)
                yield chunk
