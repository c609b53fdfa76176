"""Text and HTML rendering of the summary tables (coefficients, marginal effects).

One layout for every table: a title, two columns of ``(label, value)`` info
lines, then blocks of rows under shared column headers, then notes.
"""
import html


def render_text(title, left, right, headers, blocks, notes):
    """A statsmodels-like text table.

    ``left``/``right``: the info lines, ``(label, value)`` pairs of equal
    count; ``blocks``: ``(header, rows)`` with rows ``[name, cell, ...]`` of
    formatted strings under ``headers``; ``notes``: lines after the table.
    """
    name_w = max([len(h) for h, _ in blocks] + [len(row[0]) for _, rows in blocks for row in rows])
    col_w = [max([len(h)] + [len(row[j + 1]) for _, rows in blocks for row in rows])
             for j, h in enumerate(headers)]
    table_w = name_w + sum(w + 2 for w in col_w)
    lw = max(len(a) + len(b) for a, b in left) + 2
    rw = max(len(a) + len(b) for a, b in right) + 2
    width = max(table_w, lw + rw + 4)
    # the left column never runs into the right one, however long its values
    half = min(max(width // 2, lw + 2), width - rw - 2)
    out = [title.center(width).rstrip(), "=" * width]
    for (a, b), (c, d) in zip(left, right):
        lcell = a + b.rjust(half - 2 - len(a)) if a else ""
        rcell = c + d.rjust(width - half - len(c)) if c else ""
        out.append((lcell.ljust(half) + rcell).rstrip())
    out.append("=" * width)
    for head, rows in blocks:
        out.append(head.ljust(name_w) + "".join(h.rjust(w + 2) for h, w in zip(headers, col_w)))
        out.append("-" * width)
        for row in rows:
            out.append(row[0].ljust(name_w)
                       + "".join(c.rjust(w + 2) for c, w in zip(row[1:], col_w)))
        out.append("=" * width)
    out.extend(notes)
    return "\n".join(out)


def render_html(title, left, right, headers, blocks, notes):
    """The table of :func:`render_text` as HTML (for notebooks)."""
    esc = html.escape
    parts = ['<div class="logreg-summary">', f"<table><caption>{esc(title)}</caption>"]
    for (a, b), (c, d) in zip(left, right):
        parts.append(
            f"<tr><th>{esc(a)}</th><td>{esc(b)}</td><th>{esc(c)}</th><td>{esc(d)}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<table>")
    for head, rows in blocks:
        parts.append("<tr><th>" + esc(head) + "</th>"
                     + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
        for row in rows:
            parts.append("<tr><th>" + esc(row[0]) + "</th>"
                         + "".join(f"<td>{esc(c)}</td>" for c in row[1:]) + "</tr>")
    parts.append("</table>")
    for note in notes:
        parts.append(f"<p>{esc(note)}</p>")
    parts.append("</div>")
    return "\n".join(parts)
