"""HTML-only mail must read well as text: paragraphs, lists, links, tables and quotes keep
their shape; scripts, styles and hidden parts do not show."""

from __future__ import annotations

from gateway.core.htmltext import html_to_text


def test_paragraphs_and_line_breaks():
    html = "<p>Hello,</p><p>The VPN drops<br>every hour.</p><div>Thanks</div><div>Ann</div>"
    assert html_to_text(html) == "Hello,\n\nThe VPN drops\nevery hour.\n\nThanks\nAnn"


def test_gmail_blank_lines_and_entities():
    html = '<div dir="ltr">A &amp; B&nbsp;&lt;ok&gt;<div><br></div><div>caf&eacute;</div></div>'
    assert html_to_text(html) == "A & B <ok>\n\ncafé"


def test_bulleted_numbered_and_nested_lists():
    html = (
        "<p>Steps:</p><ol><li>Open the app</li><li>Click <b>Sync</b>"
        "<ul><li>wait</li><li>retry</li></ul></li><li>Report</li></ol>"
        "<ol start='7'><li>seven</li><li>eight</ol><ul><li>one<li>two</ul>"
    )
    assert html_to_text(html) == (
        "Steps:\n\n1. Open the app\n2. Click Sync\n  - wait\n  - retry\n3. Report\n"
        "7. seven\n8. eight\n- one\n- two"
    )


def test_links_show_their_target_once():
    html = (
        '<p>See <a href="https://status.example.com/incident/42">the status page</a>, '
        'mail <a href="mailto:help@example.com">help@example.com</a> or '
        '<a href="https://example.com">https://example.com</a>. '
        '<a href="javascript:alert(1)">click</a></p>'
    )
    assert html_to_text(html) == (
        "See the status page <https://status.example.com/incident/42>, mail help@example.com "
        "or https://example.com. click"
    )


def test_tables_become_rows_of_cells():
    html = (
        "<table><tr><th>Serial</th><th>Site</th></tr>"
        "<tr><td>C02X1234</td><td>Leeds</td></tr>"
        "<tr><td><p class=MsoNormal>C02X5678</p></td><td><p class=MsoNormal>York</p></td></tr>"
        "</table><p>Thanks</p>"
    )
    assert html_to_text(html) == "Serial | Site\nC02X1234 | Leeds\nC02X5678 | York\n\nThanks"


def test_a_cell_holding_paragraphs_keeps_its_lines():
    html = "<table><tr><td>Note</td><td><p>First point.</p><p>Second point.</p></td></tr></table>"
    assert html_to_text(html) == "Note\nFirst point.\n\nSecond point."


def test_blockquotes_are_quoted_but_gmail_indent_is_not():
    html = (
        "<div>Answer</div><blockquote type='cite'>Question<blockquote>Older</blockquote>"
        "</blockquote><blockquote style='margin:0 0 0 40px;border:none;padding:0px'>"
        "Indented by me</blockquote>"
    )
    assert html_to_text(html) == "Answer\n\n> Question\n>\n>> Older\n\nIndented by me"


def test_scripts_styles_head_and_hidden_parts_do_not_show():
    html = (
        "<html><head><title>Newsletter</title><style>p{color:red}</style>"
        "<body><script>alert('x')</script><div style='display: none'>preheader</div>"
        "<p>Visible</p><!-- comment --><svg><text>logo</text></svg></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_outlook_lines_and_empty_paragraphs():
    html = (
        '<p class="MsoNormal">Hello,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">Line one<o:p></o:p></p><p class="MsoNormal">Line two</p>'
    )
    assert html_to_text(html) == "Hello,\n\nLine one\nLine two"


def test_preformatted_text_keeps_its_spacing():
    html = "<p>Log:</p><pre>ERROR  disk full\n  at /var/lib\n</pre><p>Help</p>"
    assert html_to_text(html) == "Log:\n\nERROR  disk full\n  at /var/lib\n\nHelp"


def test_images_show_their_alt_text_and_headings_stand_apart():
    html = "<h1>Invoice</h1><p><img src='cid:logo' alt='ACME logo'> Total: 5 EUR</p>"
    assert html_to_text(html) == "Invoice\n\n[ACME logo] Total: 5 EUR"


def test_broken_and_hostile_markup_still_gives_the_text():
    assert html_to_text("<p>unclosed <b>bold <i>both") == "unclosed bold both"
    assert html_to_text("</div></p></table>text</li>") == "text"
    assert html_to_text("<div>" * 5000 + "deep" + "</div>" * 10) == "deep"
    assert html_to_text("<table>" + "<td>x" * 1000) == " | ".join(["x"] * 1000)
    assert html_to_text("") == ""
