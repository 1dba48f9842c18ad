"""page_weight counts a page's bytes by where they go, and its floor without styling, test and htmx hooks."""

import pytest

from tests.load.page_weight import render_weight, weigh

pytestmark = [pytest.mark.embedded]

ROW = (
    '<tbody id="synced-commitment-7" class="record" data-list="synced">'
    '<tr><td class="col-number">SC-7</td>'
    '<td><button formaction="/c/7/unlink/" hx-post="/c/7/unlink/" aria-label="Unlink SC-7">'
    "Unlink</button></td>"
    "</tr></tbody>"
)
PAGE = f'<main id="m">\n  <h1 class="t">Tab</h1>\n  <table>{ROW}</table>\n</main>'


def test_rows_and_frame_add_up_to_the_page_and_each_list_counts_its_rows():
    weight = weigh(PAGE)

    assert weight.total == len(PAGE)
    assert (weight.row_count, weight.rows) == (1, len(ROW))
    assert weight.frame == len(PAGE) - len(ROW)
    assert weight.by_list == {"synced": (1, len(ROW))}


def test_text_white_space_attributes_and_tags_are_counted_apart_and_add_up():
    weight = weigh(PAGE)

    assert weight.text == len("Tab" + "SC-7" + "Unlink")
    assert weight.whitespace == len("\n  ") * 2 + len("\n")
    assert weight.attributes["class"] == len(' class="t"' + ' class="record"' + ' class="col-number"')
    assert weight.attributes["data-* (other)"] == len(' data-list="synced"')
    assert weight.attributes["addresses (href, action, formaction, hx-get, hx-post)"] == len(
        ' formaction="/c/7/unlink/"' + ' hx-post="/c/7/unlink/"'
    )
    assert weight.attributes["aria-*, role, scope, title"] == len(' aria-label="Unlink SC-7"')
    assert weight.tags == weight.total - weight.text - weight.whitespace - sum(weight.attributes.values())
    elements = "<main><h1></h1><table><tbody><tr><td></td><td><button></button></td></tr></tbody>"
    elements += "</table></main>"
    assert weight.tags == len(elements)


def test_the_floor_drops_classes_data_and_hx_attributes_and_white_space_only():
    weight = weigh(PAGE)

    dropped = ' class="t"' + ' class="record"' + ' class="col-number"' + ' data-list="synced"'
    dropped += ' hx-post="/c/7/unlink/"' + "\n  " * 2 + "\n"
    assert weight.floor == len(PAGE) - len(dropped)
    assert weight.optional_end_tags == len("</td>" * 2 + "</tr></tbody>")
    in_row = ' class="record"' + ' data-list="synced"' + ' class="col-number"' + ' hx-post="/c/7/unlink/"'
    assert weight.rows_floor == len(ROW) - len(in_row)
    assert render_weight(weight)[2] == (
        "Floor (no class, data-*, hx-* attribute or white space between tags): "
        f"{weight.floor / 1024:.1f} KB: "
        f"the rows {weight.rows_floor / 1024:.1f} KB ({weight.rows_floor} bytes each), "
        f"the frame {(weight.floor - weight.rows_floor) / 1024:.1f} KB; "
        f"of the page's, end tags HTML lets a page leave out: {weight.optional_end_tags / 1024:.1f} KB."
    )


def test_bytes_are_utf8_bytes_as_sent():
    weight = weigh('<p title="Sage 300 CRE®">café</p>'.encode())

    assert weight.total == len('<p title="Sage 300 CRE®">café</p>'.encode())
    assert weight.text == len("café".encode())
    assert weight.attributes["aria-*, role, scope, title"] == len(' title="Sage 300 CRE®"'.encode())


def test_the_report_names_the_rows_the_frame_and_the_floor():
    lines = render_weight(weigh(PAGE))

    assert lines[0] == (
        f"Where its {len(PAGE) / 1024:.1f} KB go: 1 row {len(ROW) / 1024:.1f} KB "
        f"(synced: 1 row, {len(ROW)} bytes each); the frame {(len(PAGE) - len(ROW)) / 1024:.1f} KB."
    )
