"""Helpers of the browser tests: the fake camera's video, screenshots, logging in."""

from __future__ import annotations

import time
from pathlib import Path

import segno

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def write_qr_video(path: Path, text: str, size: int = 720, frames: int = 5) -> None:
    """Render `text` as a QR code (segno) into an uncompressed Y4M video, grey on white."""
    matrix = list(segno.make(text, error="m").matrix)
    modules = len(matrix) + 8  # quiet zone of 4 each side
    cell = size // modules
    offset = (size - cell * len(matrix)) // 2
    rows = []
    for y in range(size):
        my = (y - offset) // cell
        row = bytearray(b"\xeb" * size)
        if y - offset >= 0 and 0 <= my < len(matrix):
            line = matrix[my]
            for mx, dark in enumerate(line):
                if dark:
                    start = offset + mx * cell
                    row[start : start + cell] = b"\x10" * cell
        rows.append(bytes(row))
    luma = b"".join(rows)
    chroma = b"\x80" * (size // 2) * (size // 2)
    frame = b"FRAME\n" + luma + chroma + chroma
    header = f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def log_in(page, person: dict) -> None:
    page.goto("/")
    page.fill("input[name=phone]", person["phone"])
    page.fill("input[name=pin]", person["pin"])
    page.click(".login-screen button[type=submit]")
    page.wait_for_selector(".member-home, .merchant-home, .counter-desk")


def wait_for_image(page, selector: str, timeout_seconds: float = 10) -> None:
    """Wait until the image has loaded. (page.wait_for_function evaluates a string, which the
    app's CSP forbids, as it should.)"""
    deadline = time.monotonic() + timeout_seconds
    image = page.locator(selector)
    image.wait_for()
    while not image.evaluate("img => img.complete && img.naturalWidth > 0"):
        assert time.monotonic() < deadline, f"{selector} did not load"
        time.sleep(0.05)
