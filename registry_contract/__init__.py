"""Registry and FactRegistry contracts (Cairo 1 sources, artifacts) and their Python client."""

TX_POLL_INTERVAL_S = 0.1
"""How often to ask a node whether a sent transaction was included."""

TX_WAIT_RETRIES = 6000
"""How many times to ask before giving up: 10 minutes at TX_POLL_INTERVAL_S."""
