"""The domain: plain async services over a unit of work. No Telegram imports here."""
