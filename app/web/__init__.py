"""What every HTML page shares: language, CSRF, the voucher held in this browser, security headers."""
