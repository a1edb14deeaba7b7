"""Money from donors through Stripe: checkout, the webhook inbox, refunds and reconciliation."""
