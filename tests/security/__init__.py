"""Attack scripts against a unit on loopback: each bounded in count and time."""
