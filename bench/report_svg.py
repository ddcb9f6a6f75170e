"""The plots of bench/report: one SVG per group, horizontal bars, no
plotting library (none is installed; GitHub shows SVG files inline).

Each bar is one (row, contender): its time relative to native (or runc,
for the rows native has no figure in) on a log scale (1 = baseline; above 1 slower), or, for a group without native figures
(memory), the value itself on a linear scale."""

import math
from xml.sax.saxutils import escape

COLORS = {
    "native": "#4d4d4d",
    "runc": "#8c6d31",
    "crun": "#bd9e39",
    "gVisor (ptrace)": "#d62728",
    "runsc-rs (ptrace)": "#1f77b4",
    "runsc-rs (kvm)": "#2ca02c",
    "runsc-rs (systrap)": "#9467bd",
}
OTHER = ["#17becf", "#e377c2", "#7f7f7f", "#bcbd22", "#ff7f0e"]
BAR, GAP, LABEL_W, PLOT_W, VALUE_W = 16, 4, 330, 420, 90


def color(label, extra):
    if label in COLORS:
        return COLORS[label]
    if label.startswith("floor: "):
        return "#aaaaaa"
    if label not in extra:
        extra[label] = OTHER[len(extra) % len(OTHER)]
    return extra[label]


def plot(title, rows, slowdown, natives):
    """natives: each row's baseline figure (native's, or runc's)."""
    relative = bool(natives)
    bars = []  # (row, contender, x, text)
    for r in rows:
        v = r["value"]
        if relative:
            s = slowdown(v, natives.get(r["row"]), r["unit"])
            bars.append((r["row"], r["contender"], s, "failed" if v is None else (f"{s:.2f}x" if s else "")))
        else:
            bars.append((r["row"], r["contender"], v, "failed" if v is None else f"{v:.1f} {r['unit']}"))
    xs = [b[2] for b in bars if b[2]]
    if relative:
        lo = min([1.0] + xs) / 1.5
        hi = max([1.0] + xs) * 1.5
        lo_l, hi_l = math.log10(lo), math.log10(hi)
        pos = lambda x: (math.log10(x) - lo_l) / (hi_l - lo_l) * PLOT_W  # noqa: E731
    else:
        hi = max(xs or [1.0]) * 1.1
        pos = lambda x: x / hi * PLOT_W  # noqa: E731
    y = 40
    body, extra, last_row = [], {}, None
    for row, who, x, text in bars:
        if row != last_row:
            y += 6
            body.append(f'<text x="4" y="{y + 12}" font-weight="bold">{escape(row[:70])}</text>')
            y += BAR + GAP
            last_row = row
        body.append(f'<text x="{LABEL_W - 6}" y="{y + 12}" text-anchor="end">{escape(who)}</text>')
        if x:
            w = max(1.0, pos(x))
            body.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR}" fill="{color(who, extra)}"/>')
            body.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 12}">{escape(text)}</text>')
        else:
            body.append(f'<text x="{LABEL_W + 4}" y="{y + 12}" fill="#d62728">{escape(text or "-")}</text>')
        y += BAR + GAP
    axis = []
    top, bottom = 34, y + 2
    if relative:
        k = math.floor(lo_l)
        while 10**k <= hi:
            for m in (1, 2, 5):
                t = m * 10**k
                if lo <= t <= hi:
                    xt = LABEL_W + pos(t)
                    stroke = "#333" if t == 1 else "#ddd"
                    axis.append(f'<line x1="{xt:.1f}" y1="{top}" x2="{xt:.1f}" y2="{bottom}" stroke="{stroke}"/>')
                    axis.append(f'<text x="{xt:.1f}" y="{top - 2}" text-anchor="middle" font-size="10">{t:g}x</text>')
            k += 1
        sub = "time relative to native, or runc where native has none (log scale; 1x = baseline, right = slower)"
    else:
        sub = "absolute (linear scale)"
    width = LABEL_W + PLOT_W + VALUE_W
    height = y + 10
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="4" y="14" font-size="14" font-weight="bold">{escape(title)}</text>\n'
            f'<text x="4" y="27" font-size="11" fill="#555">{escape(sub)}</text>\n'
            + "\n".join(axis + body) + "\n</svg>\n")
