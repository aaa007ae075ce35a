"""Telegram adapters for the student's information sheet and consent."""
