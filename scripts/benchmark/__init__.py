"""`scripts/bench`: throughput and latency of the SMTP path, measured from outside the gateway."""
