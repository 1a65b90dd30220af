"""Hostile image files, made in memory in milliseconds: icon and GIF bombs whose headers lie
about their size, a PNG whose text chunk inflates past Pillow's limit, truncated QOI and
AVIF files. Used by tests/ and by serve_attacks.py."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def big_png(side: int) -> bytes:
    """A white side x side RGBA PNG written without holding its pixels (12,000 x 12,000:
    576 MB of pixels in ~560 KB)."""
    row = b"\x00" + b"\xff" * (4 * side)
    packer = zlib.compressobj(6)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
            + _chunk(b"IEND", b""))  # fmt: skip


def ico_bomb(side: int = 12_000) -> bytes:
    """An ICO whose directory says 16x16 and whose image is a side x side PNG."""
    inner = big_png(side)
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(inner), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + inner


def icns_bomb(side: int = 12_000) -> bytes:
    """An ICNS holding a side x side PNG as its 512x512 ('ic09') icon."""
    inner = big_png(side)
    entry = b"ic09" + struct.pack(">I", 8 + len(inner)) + inner
    return b"icns" + struct.pack(">I", 8 + len(entry)) + entry


def small_png(side: int = 28) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (side, side), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def ztxt_png(inflated_bytes: int = 2 * 2**20) -> bytes:
    """A valid small PNG with a zTXt chunk that inflates past Pillow's 1 MB text limit
    (ValueError while opening)."""
    png = small_png()
    text = b"comment\x00\x00" + zlib.compress(b"a" * inflated_bytes, 9)
    end_of_header = 8 + 25
    return png[:end_of_header] + _chunk(b"zTXt", text) + png[end_of_header:]


def gif_frame_bomb(side: int = 12_000) -> bytes:
    """A GIF whose screen is 1x1 and whose first frame is side x side (Pillow enlarges the
    image to the frame)."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0)
    return screen + frame + b"\x02\x02\x44\x01\x00\x3b"


def truncated_qoi() -> bytes:
    return b"qoif" + struct.pack(">IIBB", 4000, 4000, 3, 0) + b"\xfe\x00\x00"


def truncated_avif() -> bytes:
    box = b"ftypavif" + b"\x00\x00\x00\x00" + b"avifmif1miaf"
    return struct.pack(">I", 8 + len(box)) + box + b"\x00\x00\x01\x00meta"


HOSTILE = {
    "ico-bomb.ico": ico_bomb,
    "icns-bomb.icns": icns_bomb,
    "ztxt.png": ztxt_png,
    "gif-frame-bomb.gif": gif_frame_bomb,
    "cut.qoi": truncated_qoi,
    "cut.avif": truncated_avif,
}
