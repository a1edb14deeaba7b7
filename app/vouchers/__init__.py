"""Voucher periods and vouchers."""
