"""What the routes call: sign-in and sessions, signed actions, idempotency, the evidence store, mirror reads."""
