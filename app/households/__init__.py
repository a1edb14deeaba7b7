"""Households: one per residential address, no names."""
