"""Demo data for a newcomer's machine."""
