"""Telegram adapters for Security notices."""
