"""The back office's people: staff accounts with password and TOTP, roles, wijk scope and sessions."""
