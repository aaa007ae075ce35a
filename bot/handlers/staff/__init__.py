"""Telegram adapters for staff journeys."""
