"""Web chat: the embeddable widget, its session tokens and its WebSocket."""
