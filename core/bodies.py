"""Request bodies are bounded while they are read, chunked or not.

`read_bounded` pulls `request.stream()` chunk by chunk and stops with a 413 as
soon as more than `limit` bytes arrived, so a lying or missing Content-Length
never makes us read (or buffer) more than the limit plus one chunk. The body it
returns is also kept on the request, so `request.body()`, `request.form()` and
libraries handed the request (slack-bolt) read it from memory afterwards.
"""

from __future__ import annotations

from fastapi import HTTPException, Request


def declared_length(request: Request, limit: int, *, required: bool = True) -> int | None:
    """The declared Content-Length, checked before anything is read: 411 when it
    is missing (and `required`: for senders that always send one), 400 when it
    is not a number, 413 when it is over `limit`."""
    declared = request.headers.get("content-length")
    if declared is None:
        if required:
            raise HTTPException(411, "Content-Length required")
        return None
    if not declared.isdigit():
        raise HTTPException(400, "invalid Content-Length")
    if int(declared) > limit:
        raise HTTPException(413, f"the body is larger than {limit} bytes")
    return int(declared)


async def read_bounded(request: Request, limit: int, *,
                       require_length: bool = True) -> bytes:
    """The whole body, at most `limit` bytes of it: 411/413 as `declared_length`
    says before reading, 413 as soon as the stream passes `limit`."""
    declared_length(request, limit, required=require_length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    # Starlette's own cache: body(), form() and json() now use these bytes.
    request._body = body
    return body
