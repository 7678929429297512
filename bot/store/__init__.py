"""Persistence behind the domain's Store port (embedded SQLite by default)."""
