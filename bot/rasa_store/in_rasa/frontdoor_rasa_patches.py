"""Two repairs of Rasa 3.6's per-turn cost, applied by our launcher
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


def apply() -> None:
    global APPLIED
    if APPLIED:
        return
    import jsonschema
    from rasa.shared.core.events import Event

    # rasa/server.py calls jsonschema.validate; rasa/core/actions/action.py imports
    # `validate` from jsonschema inside the method, so both see the module's name.
    jsonschema.validate = cached_validate()
    Event.resolve_by_type = staticmethod(cached_resolve_by_type(Event.resolve_by_type))
    APPLIED = True
