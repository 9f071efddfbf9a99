"""Cairo job programs, the runner and the proof backends."""
