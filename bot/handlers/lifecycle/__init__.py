"""Telegram adapters for the data lifecycle: the student's own view and subject requests."""
