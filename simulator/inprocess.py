"""An in-process reader holding a :class:`VirtualCard`: the service's ``CardConnection`` seam
without PC/SC, for fast tests. Card faults become the service's transport errors, as the pyscard
driver would report them."""

from __future__ import annotations

import logging

from cardservice.errors import CardRemovedError, CardTimeoutError, NoCardError
from cardservice.transport import CardConnection

from .card import VirtualCard
from .faults import CardAbsent, CardMute, CardPulled, NotPowered, PowerLost

logger = logging.getLogger(__name__)

READER_NAME = "Simulated RP1 reader"


class InProcessConnection(CardConnection):
    """Connects to ``card`` (powering it on). After a power cut the next APDU powers the card
    on again, like a re-inserted card; after a pull, :class:`NoCardError` until
    ``card.insert()``."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        if not card.present:
            raise NoCardError("no card in the simulated reader")
        self._atr = card.power_on()

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def reader_name(self) -> str:
        return READER_NAME

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            response = self._send(apdu)
        except (PowerLost, CardPulled) as exc:
            raise CardRemovedError(f"card removed or lost power ({exc})") from exc
        except CardAbsent as exc:
            raise NoCardError("no card in the simulated reader") from exc
        except CardMute as exc:
            raise CardTimeoutError("the card did not answer") from exc
        return response[:-2], int.from_bytes(response[-2:], "big")

    def _send(self, apdu: bytes) -> bytes:
        try:
            return self.card.process(apdu)
        except NotPowered:
            self._atr = self.card.power_on()  # re-inserted after a power cut
            return self.card.process(apdu)
