"""E-mail: messages are written to the outbox in the request's transaction and sent after commit."""
