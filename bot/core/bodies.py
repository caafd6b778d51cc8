"""HTTP body content decoding: gzip, deflate (wrapped or raw), brotli, with an output cap.

Shared by the fetcher, which decodes while it streams (a bomb is refused once its output
passes the cap, without reading the rest), and by the parsing workers, which decode a
body the fetcher handed over still encoded (``FetchRequest.decode``) so the event loop's
process does not. Imports nothing heavy: the workers load it.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Protocol

import brotli

from bot.core.errors import FetchError


def size_words(n: int) -> str:
    """``10485760`` -> ``"10 MB"``: sizes as the reasons people read show them."""
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"


class _Decoder(Protocol):
    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``; may stop once the output reaches ``limit`` bytes."""
        ...


class _Identity:
    def feed(self, data: bytes, limit: int) -> bytes:
        return data


# Input handed to zlib at once (the fetcher's own read size), and the most gzip members a
# body may hold: concatenated archives have a few, a body of thousands is an attack.
_SLICE = 64 * 1024
MAX_GZIP_MEMBERS = 1000


class _ZlibDecoder:
    """gzip (possibly multi-member) or deflate (zlib-wrapped, or raw as some servers send)."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._obj: zlib._Decompress | None = None
        self._members = 0

    def _new(self, first: bytes) -> zlib._Decompress:
        if self._coding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # RFC 9110 "deflate" is zlib-wrapped; some servers send a raw stream. A zlib header
        # is CM=8 in the low nibble and a 16-bit value divisible by 31.
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes, limit: int) -> bytes:
        if len(data) <= _SLICE:
            return self._feed(data, limit)
        # In slices, as the fetcher streams: each gzip member hands back the rest of its
        # input, and the whole rest, once per member, was quadratic (a 10 MB body of tiny
        # members took minutes).
        out = bytearray()
        for start in range(0, len(data), _SLICE):
            out += self._feed(data[start : start + _SLICE], limit - len(out))
            if len(out) >= limit:
                break
        return bytes(out)

    def _feed(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        while data:
            if self._obj is None:
                self._members += 1
                if self._members > MAX_GZIP_MEMBERS:
                    raise FetchError(
                        f"refused: more than {MAX_GZIP_MEMBERS} gzip members", status=200
                    )
                self._obj = self._new(data)
            obj = self._obj
            out += obj.decompress(data, max(1, limit - len(out)))
            if obj.unconsumed_tail:
                break  # output limit reached; the caller refuses the body
            if obj.eof and obj.unused_data and self._coding == "gzip":
                rest = obj.unused_data
                if rest[:2] != b"\x1f\x8b":
                    break  # trailing garbage after the last member: ignore it
                self._obj = None  # another gzip member follows
                data = rest
                continue
            break
        return bytes(out)


class _BrotliDecoder:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes, limit: int) -> bytes:
        out = bytearray(self._obj.process(data, output_buffer_limit=max(1, limit)))
        # With an output limit brotli keeps the rest buffered until drained with empty input.
        while not self._obj.can_accept_more_data() and len(out) < limit:
            more = self._obj.process(b"", output_buffer_limit=max(1, limit - len(out)))
            if not more:
                break
            out += more
        return bytes(out)


def decoder_for(content_encoding: str | None) -> _Decoder:
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return _Identity()
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder("gzip")
    if coding == "deflate":
        return _ZlibDecoder("deflate")
    if coding == "br":
        return _BrotliDecoder()
    raise FetchError(f"unsupported Content-Encoding: {coding}")


def decode_body(raw: bytes, content_encoding: str, max_bytes: int) -> tuple[bytes, str]:
    """``(body, sha1 hex)`` of a whole body as sent. Raises ``FetchError`` when it is over
    ``max_bytes`` decoded, corrupt, or in an unknown coding (the fetcher's reasons)."""
    decoder = decoder_for(content_encoding)
    try:
        body = decoder.feed(raw, max_bytes + 1)  # one past: "at the cap" and "over" differ
    except (zlib.error, brotli.error) as exc:
        coding = content_encoding.strip().lower()
        raise FetchError(f"corrupt {coding} body", status=200) from exc
    if len(body) > max_bytes:
        raise FetchError(f"too large: over {size_words(max_bytes)}", status=200)
    return body, hashlib.sha1(body).hexdigest()
