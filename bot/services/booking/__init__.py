"""Appointments: availability, slots, booking, reminders, an adviser's day."""
