"""Accounts: users, roles, sign-up, login, sessions, profile, API tokens."""
