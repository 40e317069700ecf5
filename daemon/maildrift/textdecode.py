"""Turning configuration bytes into text the parsers can read, refusing binaries."""

from __future__ import annotations

from maildrift.errors import ConfigError

__all__ = ["BINARY_THRESHOLD", "decode_config", "encode_config"]

#: More than this share of control bytes (other than whitespace) marks a file as binary.
BINARY_THRESHOLD = 0.01

# Bytes a text file may hold: printable ASCII, whitespace, and anything >= 0x80
# (UTF-8 or Latin-1 text in comments).
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")
_CONTROL_BYTES = bytes(b for b in range(256) if (b < 0x20 and b not in _TEXT_CONTROLS) or b == 0x7F)


def decode_config(data: bytes, path: str) -> str:
    """Decode ``data`` read from ``path``; raise ConfigError for a binary file.

    Undecodable bytes survive as surrogates, so a file written back with
    :func:`encode_config` is byte-for-byte what was read.

    >>> decode_config(b"a = 1\\n# caf\\xe9\\n", "main.cf")
    'a = 1\\n# caf\\udce9\\n'
    >>> decode_config(b"a = 1\\x00", "main.cf")
    Traceback (most recent call last):
    ...
    maildrift.errors.ConfigError: main.cf:1: binary file refused (NUL byte)
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ConfigError("binary file refused (NUL byte)", path, data.count(b"\n", 0, nul) + 1)
    if data:
        # translate() in C: counting byte by byte in Python dominated load time.
        controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
        if controls / len(data) > BINARY_THRESHOLD:
            raise ConfigError(
                f"binary file refused ({controls} of {len(data)} bytes are not text)", path
            )
    return data.decode("utf-8", "surrogateescape")


def encode_config(text: str) -> bytes:
    """The inverse of :func:`decode_config`.

    >>> encode_config(decode_config(b"x\\xe9\\n", "f"))
    b'x\\xe9\\n'
    """
    return text.encode("utf-8", "surrogateescape")
