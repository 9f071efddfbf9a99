"""A built-in STARK prover and verifier over the Stark prime field (the `native` backend)."""
