"""Local stand-ins for the platforms' APIs (Telegram Bot API, Slack Web API,
Twilio Messages API), speaking the documented wire format of the subset Front
Door uses, and delivering inbound updates to the gateway's webhooks signed the
way each platform signs them. Used by `make demo` and by the tests."""
