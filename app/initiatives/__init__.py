"""Initiatives and their life cycle."""
