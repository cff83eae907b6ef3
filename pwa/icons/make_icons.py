"""Draw the app icons (192, 512, and a maskable 512) as PNGs with zlib and struct alone.

A white QR-like mark (segno's matrix of "IK") on the app's green; the maskable icon keeps the mark
inside the central safe zone (80 %). Run: python pwa/icons/make_icons.py
"""

import struct
import zlib
from pathlib import Path

import segno

GREEN = (0x0B, 0x6E, 0x4F)
WHITE = (0xFF, 0xFF, 0xFF)
HERE = Path(__file__).resolve().parent


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def icon(size: int, mark_fraction: float, rounded: bool) -> bytes:
    matrix = [list(row) for row in segno.make("IK", micro=False).matrix]
    modules = len(matrix)
    cell = int(size * mark_fraction) // modules
    offset = (size - cell * modules) // 2
    radius = size * 0.18 if rounded else 0
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            colour = GREEN
            if radius:
                dx = max(radius - x, x - (size - 1 - radius), 0)
                dy = max(radius - y, y - (size - 1 - radius), 0)
                if dx * dx + dy * dy > radius * radius:
                    colour = WHITE
            mx, my = (x - offset) // cell, (y - offset) // cell
            if (
                0 <= mx < modules
                and 0 <= my < modules
                and x >= offset
                and y >= offset
                and matrix[my][mx]
            ):
                colour = WHITE
            row += bytes(colour)
        rows.append(bytes(row))
    return png(size, size, rows)


if __name__ == "__main__":
    (HERE / "icon-192.png").write_bytes(icon(192, 0.62, rounded=True))
    (HERE / "icon-512.png").write_bytes(icon(512, 0.62, rounded=True))
    (HERE / "maskable-512.png").write_bytes(icon(512, 0.5, rounded=False))
