"""Accounts: users, passwords, sessions, sign-in limits and who may call what."""
