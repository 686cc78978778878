"""Email-first ticketing gateway."""
