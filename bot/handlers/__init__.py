"""Telegram adapters, one module per journey; `register` wires them into an Application."""
