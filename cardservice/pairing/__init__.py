"""Pairing: a client app asks for a token, a clerk compares the code and approves it."""

from cardservice.pairing.service import PairingService, Poll

__all__ = ["PairingService", "Poll"]
