"""Where a page's bytes go: its rows and its frame, its text, and its attributes by kind.

    python tests/load/page_weight.py page.html

``run_load.py --wrk`` prints this for the Commitments tab it measures. A row is a record's
``<tbody>`` (its id begins with its list's name: ``synced-commitment-7``); the frame is
everything else. Attributes are counted with the space before them, their name, ``=``
and their quoted value, as sent.

The *floor* is what the page would weigh with none of the bytes that only style it,
hook tests or htmx onto it, or indent it: every ``class``, ``data-*`` and ``hx-*``
attribute and every run of white space between tags gone. What is left is the text, the
elements and the attributes a browser needs for the page to work and be read without
JavaScript: ids, addresses, form fields, accessible names, dates.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass

#: A start or end tag, a comment or a doctype, as sent (Django escapes ">" in attribute values).
_TAG = re.compile(r"<!--.*?-->|<[!/]?[a-zA-Z][^>]*>", re.S)
#: One attribute of a start tag, with the white space before it.
_ATTRIBUTE = re.compile(r"""\s+([^\s=/>"']+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?""")
_ROW = re.compile(r'<tbody id="[^"]*".*?</tbody>', re.S)
_LIST = re.compile(r'<tbody id="([a-z]+)-')
_BETWEEN_TAGS = re.compile(r">(\s+)<")
#: End tags HTML lets a page leave out (the parser closes these elements by itself).
_OPTIONAL_END = re.compile(r"</(?:td|th|tr|tbody|thead|li|p|option|dt|dd)>")
_TAG_NAME = re.compile(r"<[a-zA-Z][^\s/>]*")
#: Attributes that name an address.
ADDRESSES = frozenset({"href", "action", "formaction", "src", "hx-get", "hx-post"})


def kind_of(name: str) -> str:
    """The group an attribute's bytes are counted in."""
    if name == "class":
        return "class"
    if name == "data-testid":
        return "data-testid"
    if name.startswith("data-"):
        return "data-* (other)"
    if name in ADDRESSES:
        return "addresses (href, action, formaction, hx-get, hx-post)"
    if name.startswith("hx-"):
        return "hx-* (other)"
    if name.startswith("aria-") or name in {"role", "scope", "title", "alt"}:
        return "aria-*, role, scope, title"
    return "other attributes (id, name, value, type, form, datetime, ...)"


@dataclass
class PageWeight:
    total: int
    rows: int
    row_count: int
    #: list slug -> (rows, bytes)
    by_list: dict[str, tuple[int, int]]
    text: int
    whitespace: int
    #: group -> bytes (see ``kind_of``)
    attributes: Counter
    floor: int
    #: The rows' part of the floor.
    rows_floor: int
    #: Bytes of end tags the page could leave out (part of ``tags``, and of the floor).
    optional_end_tags: int

    @property
    def frame(self) -> int:
        return self.total - self.rows

    @property
    def tags(self) -> int:
        """Tag names, brackets and comments: what is neither text, white space nor an attribute."""
        return self.total - self.text - self.whitespace - sum(self.attributes.values())


def size(text: str) -> int:
    """Bytes as sent (UTF-8)."""
    return len(text.encode())


def weigh(html: str | bytes) -> PageWeight:
    """The page's bytes (UTF-8) by where they go."""
    if isinstance(html, bytes):
        html = html.decode()
    rows = _ROW.findall(html)
    by_list: dict[str, list[int]] = {}
    for row in rows:
        found = _LIST.search(row)
        counts = by_list.setdefault(found.group(1) if found else "", [0, 0])
        counts[0] += 1
        counts[1] += size(row)

    attributes: Counter = Counter()
    droppable = 0
    for name, weight in _attributes(html):
        attributes[kind_of(name)] += weight
        droppable += weight if _droppable(name) else 0
    whitespace = sum(size(gap) for gap in _BETWEEN_TAGS.findall(html))
    return PageWeight(
        total=size(html),
        rows=sum(size(row) for row in rows),
        row_count=len(rows),
        by_list={slug: (count, weight) for slug, (count, weight) in by_list.items()},
        text=size(_TAG.sub("", _BETWEEN_TAGS.sub("><", html))),
        whitespace=whitespace,
        attributes=attributes,
        floor=size(html) - droppable - whitespace,
        rows_floor=sum(floor(row) for row in rows),
        optional_end_tags=sum(size(tag) for tag in _OPTIONAL_END.findall(html)),
    )


def floor(html: str) -> int:
    """The bytes of ``html`` without any ``class``, ``data-*`` or ``hx-*`` attribute (what
    only styles it, hooks tests or htmx onto it) and without white space between tags."""
    droppable = sum(weight for name, weight in _attributes(html) if _droppable(name))
    return size(html) - droppable - sum(size(gap) for gap in _BETWEEN_TAGS.findall(html))


def _droppable(name: str) -> bool:
    """An attribute the floor leaves out: one that only styles, hooks tests or htmx on."""
    return name == "class" or name.startswith(("data-", "hx-"))


def _attributes(html: str):
    """(name, bytes) of every attribute of every start tag."""
    for tag in _TAG.findall(html):
        if tag.startswith(("<!--", "</", "<!")):
            continue
        for match in _ATTRIBUTE.finditer(tag, _TAG_NAME.match(tag).end()):
            yield match.group(1).lower(), size(match.group(0))


def render_weight(weight: PageWeight) -> list[str]:
    """A few lines for the load test's report."""

    def kb(value: int) -> str:
        return f"{value / 1024:.1f} KB"

    def rows(count: int) -> str:
        return f"{count} row" + ("" if count == 1 else "s")

    lists = ", ".join(
        f"{slug or 'other'}: {rows(count)}, {weight_ / count:,.0f} bytes each"
        for slug, (count, weight_) in weight.by_list.items()
    )
    groups = ", ".join(f"{name} {kb(value)}" for name, value in weight.attributes.most_common())
    return [
        f"Where its {kb(weight.total)} go: {rows(weight.row_count)} {kb(weight.rows)} ({lists}); "
        f"the frame {kb(weight.frame)}.",
        f"By kind: text {kb(weight.text)}, tags {kb(weight.tags)}, white space between tags "
        f"{kb(weight.whitespace)}; attributes: {groups}.",
        f"Floor (no class, data-*, hx-* attribute or white space between tags): {kb(weight.floor)}: "
        f"the rows {kb(weight.rows_floor)}"
        + (f" ({weight.rows_floor / weight.row_count:,.0f} bytes each)" if weight.row_count else "")
        + f", the frame {kb(weight.floor - weight.rows_floor)}; "
        f"of the page's, end tags HTML lets a page leave out: {kb(weight.optional_end_tags)}.",
    ]


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as page:
        print("\n".join(render_weight(weigh(page.read()))))
