"""A card timing model: how long a real contact card takes for each APDU.

The in-memory card OS answers in microseconds; a real card does not. A profile gives the time of
one APDU exchange as a real T=1 contact card would spend it:

* **wire time**: every character costs ``CHAR_ETU`` elementary time units (etu = F / (D x f)),
  the command and the answer are sent as T=1 I-blocks of at most IFSC / IFSD information bytes,
  each block framed by a 3-byte prologue (NAD, PCB, LEN) and a 1-byte LRC epilogue; a chained
  block is acknowledged by a 4-byte R-block; ``BGT_ETU`` of block guard time separates blocks
  sent in opposite directions;
* **processing time**: a fixed time per command, more for the commands that do cryptography;
* **EEPROM time**: a page write time for every EEPROM page an UPDATE BINARY touches.

Profiles (the constants are documented in docs/simulator.md):

``instant``   no waiting (the default; unit tests and today's behaviour), today's ATR.
``iso-9600``  the ISO 7816-3 defaults the ATR announces by saying nothing: F=372, D=1 at
              3.5712 MHz (9600 bit/s), IFSC 32.
``fast``      after a PPS to F=512, D=32 (TA1 = 0x96) at 3.5712 MHz (223,200 bit/s), IFSC 254.

The ATR a timed card sends matches its profile (:func:`atr_for`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce

from .atr import HISTORICAL_BYTES, TS_DIRECT

#: T=1 character frame: 1 start + 8 data + 1 parity bit + 1 etu character guard time (CGT, N=0).
CHAR_ETU = 11
#: T=1 block guard time between two consecutive blocks in opposite directions.
BGT_ETU = 22
#: T=1 block framing: NAD, PCB, LEN before the information field, LRC after it.
BLOCK_OVERHEAD = 4
#: An R-block (NAD, PCB, LEN=0, LRC) acknowledging a chained I-block.
R_BLOCK = 4
#: The reader's IFSD (most CCID readers negotiate 254 with an S(IFS) request at start).
IFSD = 254
#: Default card clock (ISO 7816-3 fmax for F=372 is 5 MHz; 3.5712 MHz gives 9600 bit/s).
CLOCK_HZ = 3_571_200

#: Instructions that write EEPROM pages: UPDATE BINARY (B0 form and odd SFI form).
UPDATE_INS = frozenset({0xD6, 0xD7})

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Profile:
    """One card's timing; all times in seconds. ``f_i`` / ``d_i`` are ISO 7816-3's F and D."""

    name: str
    f_i: int = 372
    d_i: int = 1
    clock_hz: int = CLOCK_HZ
    ifsc: int = 32
    #: TA1 byte announced in the ATR (None: F and D are the defaults).
    ta1: int | None = None
    command_s: float = 0.0
    #: Extra processing by instruction byte (e.g. signature or MAC computations).
    extra_s: dict[int, float] = field(default_factory=dict)
    page_bytes: int = 64
    page_write_s: float = 0.0

    @property
    def etu_s(self) -> float:
        return self.f_i / (self.d_i * self.clock_hz)

    @property
    def bit_rate(self) -> float:
        return 1.0 / self.etu_s


INSTANT = Profile("instant")
ISO_9600 = Profile(
    "iso-9600", command_s=0.0010, page_write_s=0.0030,
    # GET CHALLENGE (random generator), EXTERNAL AUTHENTICATE (AES-CMAC), INTERNAL
    # AUTHENTICATE (an ECDSA P-256 signature on a card coprocessor).
    extra_s={0x84: 0.0005, 0x82: 0.0020, 0x88: 0.0600},
)
FAST = Profile(
    "fast", f_i=512, d_i=32, ifsc=254, ta1=0x96, command_s=0.0010, page_write_s=0.0030,
    extra_s={0x84: 0.0005, 0x82: 0.0020, 0x88: 0.0600},
)
PROFILES: dict[str, Profile] = {p.name: p for p in (INSTANT, ISO_9600, FAST)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown timing profile {name!r}; one of {', '.join(PROFILES)}") from None


def atr_for(p: Profile, historical: bytes = HISTORICAL_BYTES) -> bytes:
    """The ATR a card of profile ``p`` sends: T=1, TA1 if F/D are not the defaults, TA3 (IFSC)
    if it is not the default 32, then the historical bytes and TCK. ``instant`` and ``iso-9600``
    give today's ATR."""
    t1 = 0x01
    y1 = 0x80 | (0x10 if p.ta1 is not None else 0)
    body = bytearray([y1 | len(historical)])
    if p.ta1 is not None:
        body.append(p.ta1)
    if p.ifsc != 32:
        body += bytes([0x80 | t1, 0x10 | t1, p.ifsc])  # TD1: TD2 follows; TD2: TA3 follows
    else:
        body.append(t1)
    body += historical
    tck = reduce(lambda a, b: a ^ b, body, 0)
    return bytes([TS_DIRECT]) + bytes(body) + bytes([tck])


def _blocks(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def wire_chars(p: Profile, command: int, response: int) -> int:
    """Characters on the line for one exchange: ``command`` bytes out, ``response`` bytes (data
    and SW) back, as T=1 I-blocks with their framing and the R-blocks acknowledging chaining."""
    out_blocks, in_blocks = _blocks(command, p.ifsc), _blocks(response, IFSD)
    framing = (out_blocks + in_blocks) * BLOCK_OVERHEAD
    acks = (out_blocks - 1 + in_blocks - 1) * R_BLOCK
    return command + response + framing + acks


def pages_written(apdu: bytes, page_bytes: int) -> int:
    """EEPROM pages an UPDATE BINARY touches (0 for any other command)."""
    if len(apdu) < 5 or apdu[1] not in UPDATE_INS:
        return 0
    offset = apdu[3] if apdu[2] & 0x80 else int.from_bytes(apdu[2:4], "big") & 0x7FFF
    if apdu[4]:
        length = apdu[4]  # short Lc
    else:
        length = int.from_bytes(apdu[5:7], "big") if len(apdu) > 7 else 0  # extended Lc
    if length == 0:
        return 0
    first, last = offset // page_bytes, (offset + length - 1) // page_bytes
    return last - first + 1


def exchange_seconds(p: Profile, apdu: bytes, response_len: int) -> float:
    """Modelled time of one APDU exchange: wire, block guard, processing and EEPROM time."""
    if p is INSTANT:
        return 0.0
    ins = apdu[1] if len(apdu) > 1 else -1
    chars = wire_chars(p, len(apdu), response_len)
    turnarounds = _blocks(len(apdu), p.ifsc) + _blocks(response_len, IFSD) - 1
    wire = (chars * CHAR_ETU + turnarounds * BGT_ETU) * p.etu_s
    work = p.command_s + p.extra_s.get(ins, 0.0)
    return wire + work + pages_written(apdu, p.page_bytes) * p.page_write_s


def atr_seconds(p: Profile) -> float:
    """Time to send the ATR after a reset (at the default rate: PPS comes after the ATR)."""
    if p is INSTANT:
        return 0.0
    return len(atr_for(p)) * CHAR_ETU * ISO_9600.etu_s


#: The last part of a wait is spent spinning on the clock: ``time.sleep`` overshoots by
#: 0.08-0.14 ms per call on the machine the benchmark runs on (100 sleeps of 0.5-50 ms),
#: 11 calls per re-sign, and the card would look slower than its model.
SPIN_S = 0.0003


class Pacer:
    """Holds an answer until its modelled time has passed since the command arrived.

    Time already spent computing the answer counts toward the wait, so the card is never slower
    than its model because of the simulator's own work. The wait sleeps until ``spin_s`` before
    the due time and spins on the clock for the rest (default :data:`SPIN_S` with the real
    ``time.sleep``, no spinning with an injected one)."""

    def __init__(self, p: Profile, clock: Callable[[], float] = time.perf_counter,
                 sleep: Sleep = time.sleep, spin_s: float | None = None) -> None:
        self.profile = p
        self._clock, self._sleep = clock, sleep
        self.spin_s = (SPIN_S if sleep is time.sleep else 0.0) if spin_s is None else spin_s

    def start(self) -> float:
        return self._clock()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._wait_until(self._clock() + seconds)

    def finish(self, started: float, apdu: bytes, response_len: int) -> None:
        if self.profile is INSTANT:
            return
        self._wait_until(started + exchange_seconds(self.profile, apdu, response_len))

    def _wait_until(self, due: float) -> None:
        remaining = due - self._clock()
        if remaining > self.spin_s:
            self._sleep(remaining - self.spin_s)
        if self.spin_s > 0:
            while self._clock() < due:
                pass
