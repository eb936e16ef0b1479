"""The virtual RP1 card: a card OS that answers APDUs, a card image file, fault injection, an
in-process connection for tests and a vpcd bridge to real pcscd (`cardsim` CLI)."""
