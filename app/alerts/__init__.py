"""Freed-slot alerts (subscriptions to a room or facility on a day), reminders and their one-click links."""
