"""Small named helpers shared by the domains."""
