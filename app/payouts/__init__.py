"""Payouts of funded initiatives: approve, SEPA credit-transfer file (pain.001) and CSV, mark paid."""
