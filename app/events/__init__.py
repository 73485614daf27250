"""Events: series with occurrences, registrations and waitlists, public discovery and ICS feeds."""
