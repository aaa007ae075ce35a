"""Telegram adapters for case records."""
