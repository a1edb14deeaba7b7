"""Gemeente, wijken and buurten."""
