"""Attack scripts against a real unit on loopback (issue 13), bounded in count and time."""
