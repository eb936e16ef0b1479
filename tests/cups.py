"""A private CUPS for the tests: its own cupsd (config, spool, logs in a temp dir, a Unix socket of
its own) with one cups-pdf queue whose PDFs land in a temp folder. Stopped by the test session;
a cupsd of the machine is never touched.

cups-pdf reads its per-queue settings from ``/etc/cups/cups-pdf-QUEUE.conf`` (a path built into
the backend); the queue name is unique per session and its file is removed again at the end.
cups-pdf's backend is root-only (mode 0700), so the cupsd and these tests need root, as in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
CUPS_PDF_CONF_DIR = Path("/etc/cups")


def unavailable() -> str | None:
    """Why a private cupsd with a cups-pdf queue cannot run here, or None."""
    if os.geteuid() != 0:
        return "cups-pdf's backend runs only as root"
    for tool in ("cupsd", "lpadmin", "lp", "pdfinfo"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (scripts/install-system-deps.sh)"
    if not CUPS_PDF_PPD.exists():
        return "cups-pdf is not installed (scripts/install-system-deps.sh)"
    return None


class PrivateCups:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "cups.sock"
        self.out = root / "out"
        self.queue = f"cardservice-test-{uuid.uuid4().hex[:8]}"
        self.conf = CUPS_PDF_CONF_DIR / f"cups-pdf-{self.queue}.conf"
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to reach this cupsd (``lp`` reads ``CUPS_SERVER``)."""
        return {"CUPS_SERVER": str(self.socket)}

    def start(self) -> PrivateCups:
        r = self.root
        for d in ("spool/tmp", "cache", "state", "log", "out"):
            (r / d).mkdir(parents=True, exist_ok=True)
        (r / "spool/tmp").chmod(0o1777)
        self.out.chmod(0o777)
        (r / "cups-files.conf").write_text(
            f"ServerRoot {r}\nRequestRoot {r}/spool\nTempDir {r}/spool/tmp\nCacheDir {r}/cache\n"
            f"StateDir {r}/state\nAccessLog {r}/log/access_log\nErrorLog {r}/log/error_log\n"
            f"PageLog {r}/log/page_log\nPrintcap {r}/printcap\nSystemGroup root\n"
            "Sandboxing Relaxed\n")
        (r / "cupsd.conf").write_text(
            f"Listen {self.socket}\nLogLevel info\nWebInterface No\nBrowsing No\n"
            "DefaultPolicy open\n<Policy open>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n"
            "</Policy>\n<Location />\n  Order allow,deny\n  Allow all\n</Location>\n")
        self.conf.write_text(f"Out {self.out}\nAnonDirName {self.out}\nLabel 0\nUserUMask 0000\n"
                             "Grp root\n")
        self.proc = subprocess.Popen(["cupsd", "-f", "-c", str(r / "cupsd.conf"),
                                      "-s", str(r / "cups-files.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cupsd did not start: {self.log()}")
            time.sleep(0.05)
        self.lpadmin("-p", self.queue, "-E", "-v", f"cups-pdf:/{self.queue}",
                     "-P", str(CUPS_PDF_PPD))
        return self

    def lpadmin(self, *args: str) -> None:
        self._run("lpadmin", *args)

    def reject(self) -> None:
        self._run("cupsreject", self.queue)

    def accept(self) -> None:
        self._run("cupsaccept", self.queue)

    def idle(self) -> bool:
        """No job of the queue is still pending or processing."""
        done = subprocess.run(["lpstat", "-o", self.queue], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=30, check=False)
        return done.returncode == 0 and not done.stdout.strip()

    def _run(self, *command: str) -> None:
        subprocess.run(command, env={**os.environ, **self.env}, check=True, timeout=30,
                       capture_output=True)

    def pdfs(self) -> list[Path]:
        return sorted(self.out.glob("*.pdf"), key=lambda p: p.stat().st_mtime)

    def wait_pdf(self, before: int, timeout: float = 60.0) -> Path:
        """The next PDF cups-pdf writes (after ``before`` PDFs), once its job has completed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pdfs = self.pdfs()
            if len(pdfs) > before and self.idle() and _complete(pdfs[-1]):
                return pdfs[-1]
            time.sleep(0.2)
        raise AssertionError(f"no PDF landed in {self.out} within {timeout:g} s "
                             f"({sorted(p.name for p in self.out.iterdir())}): {self.log()}")

    def log(self) -> str:
        path = self.root / "log" / "error_log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.conf.unlink(missing_ok=True)


def _complete(pdf: Path) -> bool:
    done = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def pdf_pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))


def pdf_page_size(pdf: Path) -> tuple[float, float]:
    """The first page's width and height in points."""
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("Page size:"))
    width, _x, height = line.split(":", 1)[1].split()[:3]
    return float(width), float(height)


def running_cups() -> Iterator[PrivateCups]:
    """Start a private cupsd in a new folder; stop it (and only it) and remove the folder after.

    The folder is world-traversable (0755) and outside pytest's 0700 temp tree: CUPS runs its
    filters as user ``lp``, which must reach the spool and temp folders."""
    root = Path(tempfile.mkdtemp(prefix="cardservice-cups-"))
    root.chmod(0o755)
    cups = PrivateCups(root)
    try:
        yield cups.start()
    finally:
        cups.stop()
        shutil.rmtree(root, ignore_errors=True)
