"""Buurtkas: vouchers, initiatives and a ledger for a municipality's neighbourhood budget."""
