"""Persistence: engine, encrypted models, key ring, blind indexes, migrations."""
