"""Reading a page's error summary and its fields (the DADS form pattern in templates/_macros/forms.html).

`check_error_summary(html, ids)` asserts that the page's summary links to each field id in IDS and that each of
those fields (its control, or its fieldset for a group of checkboxes) is aria-invalid and names, in
aria-describedby, an element on the page that holds a message. Standard library only (html.parser).
"""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Node:
    def __init__(self, tag: str, attrs: dict, parent: _Node | None):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, attrs, parent, [], []

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class _Tree(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = self.current = _Node("#root", {}, None)
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text.append(data)


def parse(html: str) -> _Node:
    return _Tree(html).root


def summaries(html: str) -> list[_Node]:
    return [n for n in parse(html).walk() if "error-summary" in n.attrs.get("class", "").split()]


def summary_links(html: str) -> dict[str, str]:
    """The summary's links: target id -> link text."""
    return {a.attrs["href"][1:]: a.all_text().strip() for s in summaries(html) for a in s.walk()
            if a.tag == "a" and a.attrs.get("href", "").startswith("#")}


def check_error_summary(html: str, ids: list[str]) -> None:
    root = parse(html)
    [summary] = [n for n in root.walk() if "error-summary" in n.attrs.get("class", "").split()
                 and n.attrs.get("role") == "alert"]
    assert summary.attrs.get("tabindex") == "-1"
    assert any(n.tag in ("h2", "h3") and "入力内容を確かめてください" in n.all_text() for n in summary.walk())
    links = summary_links(html)
    by_id = {n.attrs["id"]: n for n in root.walk() if "id" in n.attrs}
    for field_id in ids:
        assert field_id in links, (field_id, links)
        assert ": " in links[field_id], links[field_id]  # "label: message"
        control = by_id.get(field_id)
        assert control is not None, f"the summary links to #{field_id}, which is not on the page"
        described = control.attrs.get("aria-describedby", "").split()
        assert described, f"#{field_id} has no aria-describedby"
        messages = [by_id[d].all_text().strip() for d in described if d in by_id and d.endswith("-error")]
        assert messages and all(messages), f"#{field_id} names no element holding its error: {described}"
        assert control.attrs.get("aria-invalid") == "true" or control.tag == "fieldset", field_id
