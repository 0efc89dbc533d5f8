#!/usr/bin/python3
"""Token roles (issue 22): an api_tokens entry {"token": ..., "role": "read"} may look but not
change: every GET answers, every POST, PATCH or DELETE under /v1/ gets 403 and changes nothing.
A plain string, and {"role": "admin"}, keep full rights; a bad role is named by `check`."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, run_all, run_cli, test  # noqa: E402

READ = "read-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"


def daemon():
    d = Daemon({"api_tokens": [TOKEN, {"token": READ, "role": "read"},
                               {"token": ADMIN, "role": "admin"}]})
    d.write_send_campaign("thanks", "purchase", "thanks")
    d.write_templates({"thanks.subject.mustache": "Thanks", "thanks.text.mustache": "Thanks\n"})
    return d.start()


@test
def a_read_token_reads_and_is_refused_every_change():
    d = daemon()
    try:
        eq(d.request("POST", "/v1/customers", body={"id": "c1", "email": "c1@example.org"}
                     ).status, 200, "the plain token is an admin")
        for path in ("/v1/status", "/v1/campaigns", "/v1/customers/c1", "/v1/messages",
                     "/v1/suppressions", "/v1/campaigns/thanks/stats"):
            eq(d.request("GET", path, token=READ).status, 200, f"GET {path} with a read token")
        changes = [("POST", "/v1/events", [{"customer": "c1", "type": "purchase"}]),
                   ("POST", "/v1/customers", {"id": "c2", "email": "c2@example.org"}),
                   ("POST", "/v1/customers/c1", {"name": "Changed"}),
                   ("DELETE", "/v1/customers/c1", None),
                   ("POST", "/v1/suppressions", {"address": "x@example.org"}),
                   ("POST", "/v1/campaigns/thanks/pause", None),
                   ("POST", "/v1/messages/1/retry", None),
                   ("PATCH", "/v1/customers/c1", {"name": "Changed"}),
                   ("DELETE", "/v1/suppressions/x@example.org", None)]
        for method, path, body in changes:
            r = d.request(method, path, body=body, token=READ)
            eq(r.status, 403, f"{method} {path} with a read token")
            check("read" in r.json["error"], "the refusal says why", r.raw)
        c = d.request("GET", "/v1/customers/c1", token=READ).json
        eq(c["name"], None, "the customer unchanged")
        eq(c["events"], [], "no event stored")
        eq(d.request("GET", "/v1/suppressions").json["suppressions"], [], "nothing suppressed")
        eq(d.request("GET", "/v1/campaigns").json["campaigns"][0]["status"], "active",
           "the campaign not paused")
        eq(d.request("POST", "/v1/campaigns/thanks/pause", token=ADMIN).status, 200,
           "an admin object token may change")
        eq(d.request("GET", "/v1/status", token="wrong-token-0123456789abcdef").status, 401,
           "an unknown token is still a 401")
    finally:
        d.stop()
        d.cleanup()


@test
def a_bad_role_is_named_by_check():
    tmp = tempfile.mkdtemp(prefix="nt-roles-")
    path = os.path.join(tmp, "c.json")
    with open(path, "w") as f:
        json.dump({"listen": "127.0.0.1:1", "data_dir": tmp,
                   "api_tokens": [TOKEN, {"token": READ, "role": "owner"}]}, f)
    os.chmod(path, 0o600)
    r = run_cli("check", "-c", path)
    check(r.returncode != 0, "check fails", r.stdout, r.stderr)
    check("api_tokens[1].role must be \"read\" or \"admin\"" in r.stderr, "names the field",
          r.stderr)


if __name__ == "__main__":
    run_all()
