"""Telegram through aiogram 3: parse updates, render replies, the adapter that sends them, and the webhook route."""
