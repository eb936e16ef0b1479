"""The RP1 card profile: what the bytes on a residence-permit card mean (pure, no I/O)."""
