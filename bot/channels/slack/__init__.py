"""Slack through slack-bolt: parse events, render Block Kit, the adapter that sends them, and the events route."""
