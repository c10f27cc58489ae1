"""The demo town: a synthetic population in real municipalities, and ``openmyna demo``."""
