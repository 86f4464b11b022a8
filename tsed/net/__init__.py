"""Everything that faces the shop's LAN. Never talks to fiskaly directly."""
