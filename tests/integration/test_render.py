#!/usr/bin/python3
"""`nurtured render` (one template over JSON data, partials from its directory) and the
template checks of `nurtured check` (syntax errors and missing templates with file:line:col)."""
import email
import email.policy
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import PLUGIN_DIR, check, eq, run_all, run_cli, test  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
TMP = tempfile.mkdtemp(prefix="nt-render-")


def write(rel, text):
    path = os.path.join(TMP, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # a configuration holds secrets: check warns when others can read it
    return path


DATA = write("data.json", json.dumps({"name": "<Tom & Jerry>", "team": "A&B"}))
write("r/sig.mustache", "-- \n{{team}}\n")
HTML = write("r/greet.html.mustache", "<p>{{name}}</p>\n{{> sig}}")
TEXT = write("r/greet.text.mustache", "Hi {{name}}\n{{> sig}}")
SUBJECT = write("r/greet.subject.mustache", "  Hello\n  {{name}}  \n")


@test
def renders_with_a_partial_next_to_it():
    r = run_cli("render", TEXT, DATA)
    eq((r.returncode, r.stderr), (0, ""), "exit")
    eq(r.stdout, "Hi <Tom & Jerry>\n-- \nA&B\n", "text, not escaped")


@test
def html_files_are_escaped():
    r = run_cli("render", HTML, DATA)
    eq((r.returncode, r.stderr), (0, ""), "exit")
    eq(r.stdout, "<p>&lt;Tom &amp; Jerry&gt;</p>\n-- \nA&amp;B\n", "html, escaped")
    eq(run_cli("render", "--escape", "none", HTML, DATA).stdout,
       "<p><Tom & Jerry></p>\n-- \nA&B\n", "--escape none")
    eq(run_cli("render", TEXT, DATA, "--escape", "html").stdout,
       "Hi &lt;Tom &amp; Jerry&gt;\n-- \nA&amp;B\n", "--escape html")


@test
def a_subject_is_one_line():
    r = run_cli("render", SUBJECT, DATA)
    eq((r.returncode, r.stdout), (0, "Hello <Tom & Jerry>\n"), "subject")


@test
def errors_name_file_line_col():
    bad = write("r/bad.text.mustache", "Hello\n{{#open}}\n")
    r = run_cli("render", bad, DATA)
    eq((r.returncode, r.stdout), (1, ""), "exit")
    eq(r.stderr.strip(), f"{bad}:2:1: unclosed section 'open'", "syntax error")
    unknown = write("r/unknown.text.mustache", "Hi\n  {{> nope}}\n")
    r = run_cli("render", unknown, DATA)
    eq(r.returncode, 1, "exit")
    eq(r.stderr.strip(), f"{unknown}:2:3: unknown partial 'nope'", "unknown partial")
    part = write("r/broken.mustache", "x\n{{/close}}")
    uses = write("r/uses.text.mustache", "{{> broken}}")
    r = run_cli("render", uses, DATA)
    eq(r.returncode, 1, "exit")
    check(r.stderr.startswith(f"{part}:2:1: "), "a partial's error names the partial", r.stderr)
    baddata = write("bad.json", '{"name": }')
    r = run_cli("render", TEXT, baddata)
    eq(r.returncode, 1, "exit")
    check(r.stderr.startswith(f"{baddata}:1:"), "bad data names its file", r.stderr)
    eq(run_cli("render", TEXT).returncode, 2, "usage")
    eq(run_cli("render", TEXT, DATA, "--escape", "xml").returncode, 2, "bad --escape")


@test
def the_examples_render():
    data = write("sample.json", json.dumps({
        "customer": {"id": "anna", "name": "Anna Schmidt", "email": "anna@example.com"},
        "event": {"type": "purchase", "properties": {"order_id": "1001",
                                                      "items": ["Wool blanket"]}},
        "campaign": {"id": "post-purchase", "topic": "orders", "transactional": False},
        "links": {"unsubscribe_url": "https://m.example/u/tok"}}))
    tdir = os.path.join(SRC, "campaigns", "templates")
    r = run_cli("render", os.path.join(tdir, "post-purchase-thanks.de.html.mustache"), data)
    eq((r.returncode, r.stderr), (0, ""), "exit")
    check('<html lang="de">' in r.stdout and "Anna Schmidt" in r.stdout and
          "Wool blanket" in r.stdout and 'href="https://m.example/u/tok"' in r.stdout,
          "layout, blocks and footer", r.stdout)


def config(name, campaigns, templates):
    return write(f"{name}/nurtured.json", json.dumps({
        "data_dir": os.path.join(TMP, name, "data"), "campaigns_dir": campaigns,
        "templates_dir": templates, "plugin_dir": PLUGIN_DIR}))


CAMPAIGN = """{
  "id": "c1",
  "name": "one",
  "topic": "news",
  "status": "active",
  "trigger": {"event": "signup"},
  "steps": [
    {"id": "hello", "send": {"channel": "mail", "template": "hello"}},
    {"id": "later", "send": {"channel": "mail", "template": "missing"}}
  ]
}
"""


@test
def check_reports_template_problems_with_file_and_line():
    cfile = write("chk/campaigns/c1.json", CAMPAIGN)
    tdir = os.path.join(TMP, "chk", "templates")
    write("chk/templates/hello.subject.mustache", "Hello {{customer.name}}")
    write("chk/templates/hello.text.mustache", "Hello\n")
    broken = write("chk/templates/broken.text.mustache", "Hi\n{{#x}}\n")
    write("chk/templates/broken.subject.mustache", "Hi")
    r = run_cli("check", "-c", config("chk", os.path.dirname(cfile), tdir))
    eq(r.returncode, 1, "exit")
    lines = r.stderr.strip().splitlines()
    eq(lines, [f"{broken}:2:1: unclosed section 'x'",
               f"{cfile}:9:49: campaign 'c1' step 'later': no template 'missing' in {tdir}"],
       "messages")
    check("templates ok" not in r.stdout, "no ok line", r.stdout)


@test
def check_says_ok_and_requires_templates_dir_when_campaigns_send():
    cdir = os.path.join(TMP, "ok", "campaigns")
    write("ok/campaigns/c1.json", CAMPAIGN.replace('"missing"', '"hello"'))
    tdir = os.path.join(TMP, "ok", "templates")
    write("ok/templates/hello.subject.mustache", "Hello")
    write("ok/templates/hello.text.mustache", "Hello\n")
    r = run_cli("check", "-c", config("ok", cdir, tdir))
    eq((r.returncode, r.stderr), (0, ""), "exit")
    check(f"{tdir}: 1 templates ok" in r.stdout, "ok line", r.stdout)
    gone = os.path.join(TMP, "ok", "no-templates")
    r = run_cli("check", "-c", config("ok", cdir, gone))
    eq(r.returncode, 1, "exit")
    check(f"templates_dir '{gone}' is not a directory" in r.stderr, "names the dir", r.stderr)
    # No campaign sends and no templates_dir: nothing to say about templates.
    r = run_cli("check", "-c", config("ok", os.path.join(TMP, "none"), gone))
    eq((r.returncode, r.stderr), (0, ""), "exit")
    check("templates" not in r.stdout, "silent", r.stdout)


@test
def the_example_campaigns_and_templates_check():
    r = run_cli("check", "-c", config("ex", os.path.join(SRC, "campaigns"),
                                      os.path.join(SRC, "campaigns", "templates")))
    eq((r.returncode, r.stderr), (0, ""), "exit")
    check("13 templates ok" in r.stdout, "every template counted", r.stdout)


@test
def preview_prints_the_message_as_sent():
    """`nurtured preview` through the same code as the engine: the examples' mail, strict."""
    cfg = write("pv/nurtured.json", json.dumps({
        "data_dir": os.path.join(TMP, "pv", "data"), "plugin_dir": PLUGIN_DIR,
        "templates_dir": os.path.join(SRC, "campaigns", "templates"),
        "public_url": "https://mail.shop.example",
        "mail_from": {"name": "Fernhill Home", "address": "hello@fernhill.example"},
        "channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1"},
                     "helpdesk": {"plugin": "webhook", "url": "http://127.0.0.1:9/t"}}}))
    cust = write("pv/customer.json", json.dumps({
        "id": "j1", "email": "j@example.de", "name": "Müller, Jürgen", "locale": "de-DE"}))
    ev = write("pv/event.json", json.dumps({
        "type": "purchase", "properties": {"order_id": "1001", "total": 89.9}}))
    camp = os.path.join(SRC, "campaigns", "post-purchase.json")
    r = run_cli("preview", "-c", cfg, "--campaign", camp, "--step", "thanks", "--customer", cust,
                "--event", ev)
    eq((r.returncode, r.stderr), (0, ""), "preview")
    raw = r.stdout.encode()
    msg = email.message_from_bytes(raw, policy=email.policy.default.clone(raise_on_defect=True))
    eq(msg["To"].addresses[0].display_name, "Müller, Jürgen", "To")
    eq(msg["From"].addresses[0].addr_spec, "hello@fernhill.example", "From")
    check("1001" in str(msg["Subject"]), "personal subject", msg["Subject"])
    check(b"\nList-Unsubscribe: <https://mail.shop.example/u/" in raw, "one-click link", raw[:800])
    check(msg.get_body(("plain",)) is not None, "a text part")
    # The helpdesk step goes to a webhook: the JSON document it would POST.
    r = run_cli("preview", "-c", cfg, "--campaign", camp, "--step", "open-ticket", "--customer",
                cust, "--event", ev)
    eq(r.returncode, 0, f"preview webhook: {r.stderr}")
    doc = json.loads(r.stdout)
    eq((doc["customer"]["id"], doc["event"]["properties"]["order_id"], doc["step"]),
       ("j1", "1001", "open-ticket"), "the document carries the data")
    r = run_cli("preview", "-c", cfg, "--campaign", camp, "--step", "nope", "--customer", cust)
    eq(r.returncode, 1, "an unknown step")
    check("no send step 'nope'" in r.stderr, "named", r.stderr)


run_all()
