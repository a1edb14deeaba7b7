"""Initiator accounts: sign up, e-mail verification, password or magic-link sign-in, sessions."""
