"""rasa-sdk custom actions: thin wrappers that read the tracker, call a service
(knowledge/, handoff/) and return events. Run with `python -m actions.server`
(one process per server; actions/server.py says why not `python -m rasa_sdk`)."""
