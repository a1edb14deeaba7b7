"""Giving voucher value to an initiative."""
