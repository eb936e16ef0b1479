"""The RP1 card OS: one command APDU in, response data + status word out.

It knows the card profile (card_layout) and nothing of the service. Volatile state (selected
application, current EF, authenticated keys, last challenge) lives here; everything persistent is
in the :class:`~simulator.image.CardImage`, saved after each change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from card_layout.files import CLA_PROPRIETARY, Fid, Ins, KeyRef

from .chip_commands import generate_key_pair, internal_authenticate
from .command import Command, WrongLength, parse_command
from .file_commands import erase_binary, read_binary, update_binary
from .image import CardImage
from .security_commands import external_authenticate, get_challenge, lock_identity
from .select_commands import get_data, get_response, select
from .status import Sw, SwError, WarningAnswer

logger = logging.getLogger(__name__)

Handler = Callable[["CardOS", Command], bytes]

_HANDLERS: dict[tuple[int, int], Handler] = {
    (0x00, Ins.SELECT): select,
    (0x00, Ins.READ_BINARY): read_binary,
    (0x00, Ins.UPDATE_BINARY): update_binary,
    (0x00, Ins.ERASE_BINARY): erase_binary,
    (0x00, Ins.GET_CHALLENGE): get_challenge,
    (0x00, Ins.EXTERNAL_AUTHENTICATE): external_authenticate,
    (0x00, Ins.GET_DATA): get_data,
    (0xFF, Ins.GET_DATA): get_data,
    (0x00, Ins.GET_RESPONSE): get_response,
    (CLA_PROPRIETARY, Ins.LOCK_IDENTITY): lock_identity,
    (0x00, Ins.INTERNAL_AUTHENTICATE): internal_authenticate,
    (CLA_PROPRIETARY, Ins.GENERATE_KEY_PAIR): generate_key_pair,
}
_KNOWN_CLA = {0x00, CLA_PROPRIETARY, 0xFF}


@dataclass
class Volatile:
    """RAM state, lost on power-off and reset."""

    app_selected: bool = True  # implicit selection at power-on
    current: Fid | None = None
    authenticated: set[KeyRef] = field(default_factory=set)
    challenge: bytes | None = None


class CardOS:
    """Answers APDUs against one card image.

    ``rng(n)`` returns ``n`` random bytes (GET CHALLENGE). ``update_cut_point()`` is asked before
    each UPDATE BINARY writes and returns how many bytes land before power is lost (or None).
    """

    def __init__(self, image: CardImage, rng: Callable[[int], bytes],
                 update_cut_point: Callable[[], int | None] = lambda: None) -> None:
        self.image = image
        self.rng = rng
        self.update_cut_point = update_cut_point
        self.ram = Volatile()
        self.update_count = 0

    def reset(self) -> None:
        """Power-on or warm reset: RAM cleared, RP1 implicitly selected."""
        self.ram = Volatile()

    def process(self, apdu: bytes) -> bytes:
        """Run one command APDU; return response data followed by SW1 SW2."""
        try:
            cmd = parse_command(apdu)
        except WrongLength:
            return Sw.WRONG_LENGTH.to_bytes(2, "big")
        try:
            data = self._dispatch(cmd)
            sw = Sw.OK
        except SwError as exc:
            data, sw = b"", exc.sw
        except WarningAnswer as exc:
            data, sw = exc.data, exc.sw
        return data + int(sw).to_bytes(2, "big")

    def _dispatch(self, cmd: Command) -> bytes:
        handler = _HANDLERS.get((cmd.cla, cmd.ins))
        if handler is None:
            if cmd.cla not in _KNOWN_CLA:
                raise SwError(Sw.CLA_NOT_SUPPORTED)
            if any(ins == cmd.ins for _, ins in _HANDLERS):
                raise SwError(Sw.CLA_NOT_SUPPORTED)
            raise SwError(Sw.INS_NOT_SUPPORTED)
        return handler(self, cmd)

    # --- helpers shared by the command modules ---

    def require_app(self) -> None:
        if not self.ram.app_selected:
            raise SwError(Sw.CONDITIONS_NOT_SATISFIED)

    def reset_application(self) -> None:
        """RP1 selected again: no current EF; authentication and challenge are kept."""
        self.ram.app_selected = True
        self.ram.current = None

    def deselect(self) -> None:
        """Another (unknown) application was selected: RP1 state is lost."""
        self.ram = Volatile(app_selected=False)
