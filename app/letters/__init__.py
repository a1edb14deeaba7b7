"""Voucher letters: one A4 page per household for a window envelope, a mail-merge CSV, and reprints."""
