"""What leaves the service: the outbox, and Security's time-only notices."""
