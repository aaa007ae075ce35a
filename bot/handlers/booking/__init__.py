"""Telegram adapters for booking, availability and an adviser's day."""
