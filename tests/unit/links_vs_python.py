#!/usr/bin/python3
"""Check daemon/links.c (through the links_tool binary) against Python's html.parser and,
when installed, html5lib (the WHATWG parsing algorithm; Debian's python3-html5lib).

Usage: links_vs_python.py [PATH/TO/links_tool]

For each tricky document the tool rewrites it; then:

  stream    html.parser's events (start tags with their attributes, end tags, text, comments,
            declarations) are the same before and after, except the href of each tracked <a>;
            each of those is https://t.example/c/TOKEN, whose token names the message and the
            link's index in order.
  targets   the links the tool keeps are exactly the <a>s Python finds trackable (absolute
            http(s), first href, not data-notrack, not the daemon's own /u/ /confirm/ /c/,
            inside conditional comments too, not in other comments, scripts or styles), with
            the URL as a browser decodes it and the name (data-link, else the text).
  html5lib  the rewritten document has the same parse errors and the same text as the input.

Output is TAP; exit 1 on any failure.
"""
import base64
import html.parser
import json
import os
import re
import subprocess
import sys

PUBLIC = "https://t.example"
CLICK = re.compile(r"https://t\.example/c/([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")

LONG = "".join('<p>Para %d <a href="https://long.example/%d?x=1&amp;y=%d">Link %d</a></p>\n'
               % (i, i, i, i) for i in range(3000))

CASES = [
    ("nested quotes", """<a href="https://a.example/?q='x'" title='say "hi"'>x</a>"""),
    ("entities in URLs",
     '<a href="https://a.example/?a=1&amp;b=2&#38;c=3&#x26;d=4&quot;">e</a>'),
    ("uppercase HREF", '<A HREF="HTTPS://A.EXAMPLE/UP">Up</A><a Href=\'https://a.example/m\'>m</a>'),
    ("a without href", '<a name="x">n</a><a>bare</a><a href>empty</a><a href="">e2</a>'),
    ("href-like text in other attributes",
     '<img alt=\'<a href="https://no.example/">\' src="https://img.example/i.png">'
     '<div data-x="href=https://no.example/" title="<a href=https://no.example/>">t</div>'
     '<a title="href=&quot;https://no.example/&quot;" href="https://yes.example/">y</a>'),
    ("unquoted values", '<a href=https://a.example/u class=c>u</a><a class=x href=https://a.example/v>v</a>'),
    ("spaces around =", '<a  href = "https://a.example/s" >s</a><a\nhref\n=\n\'https://a.example/n\'\n>n</a>'),
    ("duplicate href", '<a href="https://first.example/" href="https://second.example/">d</a>'),
    ("script and style",
     '<script>var s=\'<a href="https://no.example/">\';</script>'
     '<style>a[href="https://no.example/"]{color:red}</style><a href="https://yes.example/">y</a>'),
    ("comments", '<!-- <a href="https://no.example/">x</a> --><p>t</p><!----><!-- a -- b -->'),
    ("conditional comments",
     '<!--[if mso]><a href="https://mso.example/">o</a><![endif]-->'
     '<!--[if !mso]><!--><a href="https://web.example/">w</a><!--<![endif]-->'),
    ("own links", '<a href="https://t.example/u/abc">unsub</a><a href="https://t.example/confirm/x">c</a>'
     '<a href="https://t.example/c/old">c</a><a href="https://t.example/shop">shop</a>'),
    ("not http", '<a href="mailto:a@b.example">m</a><a href="tel:+1">t</a><a href="#top">#</a>'
     '<a href="/relative">r</a><a href="javascript:void(0)">j</a><a href="ftp://f.example/">f</a>'),
    ("data-notrack", '<a data-notrack href="https://no.example/">n</a>'
     '<a href="https://no2.example/" data-notrack="">n2</a><a href="https://yes.example/">y</a>'),
    ("white space in href", '<a href="  https://a.example/ws \n">ws</a>'),
    ("other elements", '<abbr href="https://no.example/">a</abbr><area href="https://no.example/">'
     '<link href="https://no.example/s.css" rel=stylesheet><base href="https://no.example/">'),
    ("text with <", '1 < 2 <a href="https://a.example/lt">lt</a> 3 <= 4 <3'),
    ("names", '<a href="https://a.example/n">  Hello&nbsp;<b>big</b>\n world &amp; co </a>'
     '<a href="https://a.example/d" data-link="spring &amp; summer">x</a>'
     '<a href="https://a.example/img"><img src="https://img.example/x.png" alt="pic"></a>'),
    ("a long name", '<a href="https://a.example/long">' + "wörd " * 100 + '</a>'),
    ("self-closing and slashes", '<a href="https://a.example/sl"/>x</a><a/href="https://a.example/s2">y</a>'),
    ("unterminated tag", '<p>x</p><a href="https://a.example/'),
    ("unterminated quote", '<a href="https://a.example/q>q</a>'),
    ("doctype and pi", '<!DOCTYPE html><?xml version="1.0"?><a href="https://a.example/d">d</a>'),
    ("very long document", "<html><body>" + LONG + "</body></html>"),
]

OWN = ("/u/", "/confirm/", "/c/", "/o/")


def trackable(url):
    low = url.lower()
    if not (low.startswith("http://") or low.startswith("https://")):
        return False
    return not any(low.startswith(PUBLIC + p) for p in OWN)


def squash(s):
    s = re.sub(r"[ \t\n\r\f\u00a0]+", " ", s).strip()
    b = s.encode()
    if len(b) > 200:
        s = b[:200].decode("utf-8", "ignore")
    return s


class Events(html.parser.HTMLParser):
    """The document as html.parser sees it, and the <a>s a browser would follow."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.events, self.anchors, self.open = [], [], None

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, attrs))
        if tag == "a":
            href = next((v for k, v in attrs if k == "href"), None)
            names = [k for k, _ in attrs]
            link = next((v for k, v in attrs if k == "data-link"), None)
            self.open = None
            if href is not None and "data-notrack" not in names and trackable(href.strip()):
                self.open = {"url": href.strip(" \t\n\r\f"), "name": link, "text": []}
                self.anchors.append(self.open)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.events.append(("end", tag))
        if tag == "a":
            self.open = None

    def handle_data(self, data):
        self.events.append(("data", data))
        if self.open is not None:
            self.open["text"].append(data)

    def handle_comment(self, data):
        self.events.append(("comment", data))
        if data.startswith("[if") and "]>" in data:  # Outlook's markup, a document of its own
            inner = Events()
            inner.feed(data[data.index("]>") + 2:])
            inner.close()
            self.anchors.extend(inner.anchors)

    def handle_decl(self, decl):
        self.events.append(("decl", decl))

    def handle_pi(self, data):
        self.events.append(("pi", data))

    def unknown_decl(self, data):
        self.events.append(("unknown", data))


def parse(doc):
    p = Events()
    p.feed(doc)
    p.close()
    for a in p.anchors:
        if a["name"] is None:
            a["name"] = "".join(a["text"]).replace(" ", " ")
        a["name"] = squash(a["name"])
        del a["text"]
    return p


def token_of(url):
    m = CLICK.fullmatch(url)
    if m is None:
        return None
    pad = "=" * (-len(m.group(1)) % 4)
    return json.loads(base64.urlsafe_b64decode(m.group(1) + pad))


def compare(doc, out, links):
    bad = []
    before, after = parse(doc), parse(out)
    want = [a for a in before.anchors][:200]
    got_names = [(l["url"], l["name"]) for l in links]
    want_names = [(a["url"], a["name"]) for a in want]
    if got_names != want_names:
        bad.append("targets: got %r want %r" % (got_names[:5], want_names[:5]))
    if len(before.events) != len(after.events):
        bad.append("event count %d -> %d" % (len(before.events), len(after.events)))
        return bad
    k = 0
    for e1, e2 in zip(before.events, after.events):
        if e1 == e2:
            continue
        if e1[0] == "start" and e2[0] == "start" and e1[1] == e2[1] == "a":
            a1 = [(n, v) for n, v in e1[2] if n != "href"]
            a2 = [(n, v) for n, v in e2[2] if n != "href"]
            h2 = next((v for n, v in e2[2] if n == "href"), "")
            tok = token_of(h2)
            h1 = next((v for n, v in e1[2] if n == "href"), "").strip(" \t\n\r\f")
            ok = tok is not None and tok[:2] == ["k", "<m@t.example>"] and int(tok[2]) >= k
            if a1 != a2 or not ok or links[int(tok[2])]["url"] != h1:
                bad.append("anchor %d: %r -> %r (token %r)" % (k, e1, e2, tok))
            else:
                k = int(tok[2]) + 1  # indices rise in document order
            continue
        if e1[0] == "comment" and e2[0] == "comment":
            # A conditional comment: the same once its click URLs are the original ones.
            c2 = e2[1]
            for m in CLICK.finditer(e2[1]):
                tok = token_of(m.group(0))
                c2 = c2.replace(m.group(0), links[int(tok[2])]["url"])
            if c2 == e1[1]:
                continue
        bad.append("changed: %r -> %r" % (e1, e2))
        if len(bad) > 5:
            break
    return bad


def html5(doc):
    try:
        import html5lib
    except ImportError:
        return None
    p = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"))
    tree = p.parse(doc)
    text = "".join(tree.itertext())
    return [e[1] for e in p.errors], text


def main():
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    tool = sys.argv[1] if len(sys.argv) == 2 else os.path.join(
        os.environ.get("NT_BUILDDIR", "."), "tests", "unit", "links_tool")
    failed = False
    print("1..%d" % (2 * len(CASES)))
    n = 0
    for name, doc in CASES:
        r = subprocess.run([tool], input=doc.encode(), capture_output=True, timeout=60)
        res = json.loads(r.stdout) if r.returncode == 0 else None
        bad = ["tool exit %d" % r.returncode] if res is None else compare(
            doc, res["html"], res["links"])
        n += 1
        failed |= bool(bad)
        print("%sok %d - html.parser: %s" % ("not " if bad else "", n, name))
        for b in bad[:6]:
            print("#   %s" % b[:400])
        n += 1
        h1 = html5(doc)
        if h1 is None:
            print("ok %d - html5lib: %s # SKIP python3-html5lib not installed" % (n, name))
            continue
        h2 = html5(res["html"]) if res else None
        ok = h2 is not None and h1 == h2
        failed |= not ok
        print("%sok %d - html5lib: %s" % ("" if ok else "not ", n, name))
        if not ok and h2 is not None:
            print("#   errors %r -> %r" % (h1[0][:5], h2[0][:5]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
