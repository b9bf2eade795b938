"""Three repairs of Rasa 3.6's per-turn cost, applied by our launcher
(bot/infra/rasa_run.py) before Rasa starts; what they change is found by
profiling a turn (README, "Benchmark"; docs/operations.md#rasa-patches).

- `jsonschema.validate` checks the *schema* against its meta-schema on every
  call before it checks the instance. Rasa calls it on every custom action's
  response (`RemoteAction._validate_action_result`) and on every call of the
  tracker events API (`validate_events_in_request_body`): about a third of a
  Rasa process's CPU per turn went into re-checking the same two schemas. Here
  each distinct schema is checked once and its validator kept; every instance
  is still validated in full and a bad one raises the same ValidationError.
- `Event.resolve_by_type` walks all subclasses of Event (recursively, with an
  `inspect.isabstract` test each) for every event it deserialises, and a turn
  deserialises every event of the tracker. Here the answer per type name is
  kept once found; unknown names go the original way (and raise as before).

- `EndpointConfig.request` opens a new aiohttp session, and so a new TCP
  connection, for every request: every custom action of every turn paid for a
  session, a connect and a close, in Rasa and in the action server. Here each
  endpoint keeps one session per event loop with its connections kept alive
  (for less time than the action server keeps them, so a reused connection is
  never one the server is closing); the request, its headers, parameters,
  timeout and errors are Rasa's own.

Rasa's behaviour is otherwise unchanged; "Rasa as shipped" in `frontdoor bench
chat` runs without these. Runs inside .venv-rasa: imports nothing from this
project."""

from __future__ import annotations

import json
from typing import Any

APPLIED = False


def cached_validate():
    """jsonschema.validate with one checked validator per distinct schema."""
    import jsonschema
    from jsonschema import exceptions, validators

    plain = jsonschema.validate
    checked: dict[str, Any] = {}

    def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
        if cls is not None or args or kwargs:
            return plain(instance, schema, cls, *args, **kwargs)
        # By content, not identity: Rasa builds the action schema anew per call.
        key = json.dumps(schema, sort_keys=True, default=repr)
        validator = checked.get(key)
        if validator is None:
            validator_class = validators.validator_for(schema)
            validator_class.check_schema(schema)  # raises SchemaError, as the original
            validator = checked[key] = validator_class(schema)
        error = exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    return validate


def cached_resolve_by_type(original: Any):
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    return resolve_by_type


# Client side idle keep-alive, below the action server's (Sanic: 5 s), so the
# client drops an idle connection before the server does.
KEEPALIVE_S = 2.0


def kept_session_request():
    """EndpointConfig.request on one session per endpoint and event loop."""
    import asyncio
    import ssl

    import aiohttp
    from aiohttp import ContentTypeError
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.shared.exceptions import FileNotFoundException
    from rasa.utils.endpoints import ClientResponseError, concat_url

    def session_of(endpoint: Any) -> Any:
        loop = asyncio.get_running_loop()
        kept = getattr(endpoint, "_frontdoor_session", None)
        if kept is None or kept[0] is not loop or kept[1].closed:
            # as Rasa's EndpointConfig.session, with connections kept alive
            auth = (aiohttp.BasicAuth(endpoint.basic_auth["username"],
                                      endpoint.basic_auth["password"])
                    if endpoint.basic_auth else None)
            session = aiohttp.ClientSession(
                headers=endpoint.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S))
            kept = (loop, session)
            endpoint._frontdoor_session = kept
        return kept[1]

    async def request(self: Any, method: str = "post", subpath: str | None = None,
                      content_type: str | None = "application/json", compress: bool = False,
                      **kwargs: Any) -> Any:
        # Rasa 3.6's EndpointConfig.request, but on the endpoint's kept session
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if "headers" in kwargs:
            headers.update(kwargs["headers"])
            del kwargs["headers"]
        if self.headers:
            headers.update(self.headers)
        url = concat_url(self.url, subpath)
        sslcontext = None
        if self.cafile:
            try:
                sslcontext = ssl.create_default_context(cafile=self.cafile)
            except FileNotFoundError as e:
                raise FileNotFoundException(
                    f"Failed to find certificate file, '{self.cafile}' does not exist.") from e
        async with session_of(self).request(
                method, url, headers=headers, params=self.combine_parameters(kwargs),
                compress=compress, ssl=sslcontext, **kwargs) as response:
            if response.status >= 400:
                raise ClientResponseError(response.status, response.reason,
                                          await response.content.read())
            try:
                return await response.json()
            except ContentTypeError:
                return None

    return request


def apply() -> None:
    global APPLIED
    if APPLIED:
        return
    import jsonschema
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    # rasa/server.py calls jsonschema.validate; rasa/core/actions/action.py imports
    # `validate` from jsonschema inside the method, so both see the module's name.
    jsonschema.validate = cached_validate()
    Event.resolve_by_type = staticmethod(cached_resolve_by_type(Event.resolve_by_type))
    EndpointConfig.request = kept_session_request()
    APPLIED = True
