"""Registry and FactRegistry contracts (Cairo 1 sources, artifacts) and their Python client."""
