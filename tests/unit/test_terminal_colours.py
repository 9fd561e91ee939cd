"""Task output stays readable: every ANSI colour the terminal shows on its
dark background has a contrast of at least 4.5:1 (WCAG AA), black excepted
(it is a background colour in practice). Toru's own colours come from
css/tokens.css through ui/terminal.js; the rest are xterm.js 5.5's defaults."""

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"
NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def xterm_defaults():
    """The 16 ANSI colours of the vendored xterm.js, read from the file itself."""
    source = (STATIC / "vendor/xterm/xterm.js").read_text()
    start = source.index('toColor("#2e3436")')
    colours = re.findall(r'toColor\("(#[0-9a-f]{6})"\)', source[start:start + 1000])[:16]
    names = NAMES + tuple("bright" + n.capitalize() for n in NAMES)
    return dict(zip(names, colours))


def luminance(colour):
    def channel(c):
        c = int(c, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_ansi_colour_reads_on_the_terminal_background():
    tokens = dict(re.findall(r"--(terminal-[a-z-]+):\s*(#[0-9A-Fa-f]{6})", (STATIC / "css/tokens.css").read_text()))
    theme = dict(re.findall(r"(\w+): get\('--(terminal-[a-z-]+)'\)", (STATIC / "js/ui/terminal.js").read_text()))
    palette = xterm_defaults()
    assert len(palette) == 16 and palette["blue"] == "#3465a4", palette
    del palette["black"]
    for key, token in theme.items():
        if key in palette:
            palette[key] = tokens[token]
    background, foreground = tokens["terminal-bg"], tokens["terminal-fg"]
    low = {name: round(contrast(colour, background), 2) for name, colour in dict(palette, foreground=foreground).items()
           if contrast(colour, background) < 4.5}
    assert low == {}, f"too dark on {background}: {low}"
