"""IP addresses: what event-ruler reads as an address, and cidr blocks."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.json_text import show
from logway.functions.patterns.tree import Predicate

# What event-ruler is willing to read as an IP address (anything else is text).
IPV4_RE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")

IPV6_RE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def parse_ip(text: str) -> tuple[int, int] | None:
    """``(4 or 6, address)`` when ``text`` is an IP address literal, else None.

    Like Java's ``InetAddress``, an IPv4-mapped IPv6 address counts as IPv4.
    """
    if IPV4_RE.fullmatch(text):
        address = 0
        for part in text.split("."):
            digits = part.lstrip("0")  # decimal even with leading zeros, as in Java
            if len(digits) > 3:
                return None
            octet = int(digits or "0")
            if octet > 255:
                return None
            address = address << 8 | octet
        return 4, address
    if ":" in text and IPV6_RE.fullmatch(text):
        try:
            v6 = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = v6.ipv4_mapped
        if mapped is not None:
            return 4, int(mapped)
        return 6, int(v6)
    return None


def parse_cidr(text: str, where: str) -> tuple[int, int, int]:
    address, slash, bits_text = text.partition("/")
    if not slash or "/" in bits_text:
        raise PatternError(f"cidr {show(text)} must have exactly one '/'", where)
    ip = parse_ip(address)
    if ip is None:
        raise PatternError(f"cidr {show(text)}: {address!r} is not an IPv4 or IPv6 address", where)
    if not (bits_text.isascii() and bits_text.isdigit()):
        raise PatternError(
            f"cidr {show(text)}: the mask length must be a non-negative integer", where
        )
    version, value = ip
    width = 32 if version == 4 else 128
    bits = int(bits_text) if len(bits_text) <= 4 else width
    if bits >= width:  # event-ruler's limit; a single address is written without a mask
        raise PatternError(
            f"cidr {show(text)}: an IPv{version} mask length must be less than {width}; "
            f"to match a single address list it as a plain string, e.g. [{address!r}]",
            where,
        )
    host = (1 << (width - bits)) - 1
    return version, value & ~host, value | host


def ip_predicate(ranges: tuple[tuple[int, int, int], ...]) -> Predicate:
    def in_ranges(v: str) -> bool:
        ip = parse_ip(v)
        if ip is None:
            return False
        version, value = ip
        for range_version, low, high in ranges:
            if version == range_version and low <= value <= high:
                return True
        return False

    return in_ranges
