"""The gateway's HTTP client to Rasa (bot/gateway/rasa_client.py, rasa_http_client):
it keeps connections for back-to-back turns, and drops one idle for
KEEPALIVE_EXPIRY_S, before a server's own 5 s keep-alive can close it under a
request (aiohttp fails such a request with "Server disconnected")."""

import asyncio

from aiohttp import web

from bot.gateway.rasa_client import KEEPALIVE_EXPIRY_S, rasa_http_client

SERVERS_KEEPALIVE_S = 5.0  # uvicorn's and Rasa's Sanic's default


async def test_a_connection_is_kept_for_the_next_turn_and_dropped_before_the_server_drops_it():
    peers: list[int] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response([{"text": "hi"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app, keepalive_timeout=SERVERS_KEEPALIVE_S)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/webhooks/rest/webhook"
    try:
        async with rasa_http_client(5.0) as http:
            for _ in range(2):
                assert (await http.post(url, json={"message": "x"})).json() == [{"text": "hi"}]
            await asyncio.sleep(KEEPALIVE_EXPIRY_S + 0.5)
            assert (await http.post(url, json={"message": "x"})).status_code == 200
    finally:
        await runner.cleanup()
    assert KEEPALIVE_EXPIRY_S < SERVERS_KEEPALIVE_S / 2
    assert peers[0] == peers[1] != peers[2]
