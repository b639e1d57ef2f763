"""A tenant's look: its primary colour turned into a small palette that keeps text readable (WCAG AA).

The operator picks any colour. Buttons use it as their background, with black or white text, whichever
contrasts more; links and focus rings use ``ink``, the colour darkened until it reads on white (4.5:1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_COLOR = "#2563eb"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_CONTRAST = 4.5
DARK_SURFACE = "#1c1f25"  # the dark theme's lightest surface (portal.css): ink must read on it
DEFAULT_DARK_INK = "#8fb0f6"
DEFAULT_DARK_SOFT = "#1f2a44"


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def luminance(color: str) -> float:
    def linear(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class Palette:
    brand: str  # the operator's colour: button backgrounds, the header's accent
    on_brand: str  # text on it
    ink: str  # the colour for text and links on white
    soft: str  # a pale tint for highlighted backgrounds
    dark_ink: str = DEFAULT_DARK_INK  # the colour for text and links on the dark theme's surfaces
    dark_soft: str = DEFAULT_DARK_SOFT  # a deep tint for highlighted backgrounds on the dark theme

    def css(self) -> str:
        dark = f"--brand-ink:{self.dark_ink};--brand-soft:{self.dark_soft};"
        return (
            f":root{{--brand:{self.brand};--on-brand:{self.on_brand};"
            f"--brand-ink:{self.ink};--brand-soft:{self.soft};}}\n"
            f':root[data-theme="dark"]{{{dark}}}\n'
            f'@media (prefers-color-scheme: dark){{:root:not([data-theme="light"]){{{dark}}}}}\n'
        )


def palette(color: str | None) -> Palette:
    color = (color or "").strip()
    if not _HEX.match(color):
        color = DEFAULT_COLOR
    color = color.lower()
    on_brand = "#ffffff" if contrast(color, "#ffffff") >= contrast(color, "#000000") else "#000000"
    r, g, b = _channels(color)
    ink = color
    factor = 1.0
    while contrast(ink, "#ffffff") < AA_CONTRAST and factor > 0:
        factor -= 0.05
        ink = _hex((r * factor, g * factor, b * factor))
    soft = _hex(tuple(c + (255 - c) * 0.88 for c in (r, g, b)))  # type: ignore[arg-type]
    # On the dark theme, links lighten towards white until they read on its surfaces.
    dark_ink, mix = color, 0.0
    while contrast(dark_ink, DARK_SURFACE) < AA_CONTRAST + 0.3 and mix < 1:
        mix += 0.05
        dark_ink = _hex(tuple(c + (255 - c) * mix for c in (r, g, b)))  # type: ignore[arg-type]
    dark_soft = _hex(tuple(28 + (c - 28) * 0.22 for c in (r, g, b)))  # type: ignore[arg-type]
    return Palette(brand=color, on_brand=on_brand, ink=ink, soft=soft, dark_ink=dark_ink, dark_soft=dark_soft)
