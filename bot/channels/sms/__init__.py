"""SMS through Twilio: parse the signed webhook, render plain text, the adapter that sends it, and the inbound route."""
