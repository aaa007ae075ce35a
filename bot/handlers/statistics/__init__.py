"""Telegram adapters for the anonymous statistics: /stats and its chart."""
