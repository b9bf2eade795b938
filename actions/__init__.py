"""rasa-sdk custom actions: thin wrappers that read the tracker, call a service
(knowledge/, handoff/) and return events. Run with `python -m rasa_sdk --actions actions`."""
