"""The ESPs' event webhooks (issue 16), each in its provider's documented format and signed by
the test with its own keys: Amazon SES through SNS (SignatureVersion 1 and 2, against the
pinned certificate; the subscription confirmation visited), Postmark (basic auth), Mailgun
(HMAC-SHA256) and SendGrid (ECDSA P-256). A bounce or complaint has the same effects as by
mail; a bad signature is 401 and changes nothing.
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from inbound_mail import (customer, events_of, headers_of, purchase, received_for,  # noqa: E402
                          setup, suppressions, teardown)
from ntest import check, eq, poll, run_all, test  # noqa: E402

MAILGUN_KEY = "key-mailgun-test-0123456789"
PM_USER, PM_PASS = "postmark", "pm-secret-pass"


class Keys:
    def __init__(self, tmp):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.eu-west-1.amazonaws.com")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.rsa.public_key()).serial_number(1)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .sign(self.rsa, hashes.SHA256()))
        self.cert_file = os.path.join(tmp, "sns.pem")
        with open(self.cert_file, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ec_pub = base64.b64encode(self.ec.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

    def sns(self, msg, version="1"):
        fields = (["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
                  if msg["Type"] == "Notification" else
                  ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                   "Type"])
        text = "".join(f"{k}\n{msg[k]}\n" for k in fields if k in msg)
        h = hashes.SHA1() if version == "1" else hashes.SHA256()
        sig = self.rsa.sign(text.encode(), padding.PKCS1v15(), h)
        return dict(msg, SignatureVersion=version, Signature=base64.b64encode(sig).decode(),
                    SigningCertURL="https://sns.eu-west-1.amazonaws.com/cert.pem")

    def sendgrid(self, body, ts):
        sig = self.ec.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": ts, "Content-Type": "application/json"}


def esp_setup():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="nt-esp-")
    keys = Keys(tmp)
    d, srv = setup({"webhooks": {"ses": {"certificate": keys.cert_file},
                                 "postmark": {"user": PM_USER, "password": PM_PASS},
                                 "mailgun": {"signing_key": MAILGUN_KEY},
                                 "sendgrid": {"public_key": keys.ec_pub}}})
    d.start()
    return d, srv, keys


def sent_to(d, srv, cid):
    customer(d, cid)
    purchase(d, cid, "o1")
    s = received_for(srv, f"{cid}@example.org")[0]
    return s, headers_of(s)["Message-ID"]


def post(d, provider, body, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    return d.request("POST", f"/v1/webhooks/{provider}", raw=data, auth=False,
                     headers=dict({"Content-Type": "application/json"}, **(headers or {})))


def ses_notification(keys, kind, source, msgid, addr, version="1"):
    if kind == "Bounce":
        inner = {"notificationType": "Bounce", "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": addr, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-01-05T10:00:00.000Z", "feedbackId": str(uuid.uuid4())}}
    else:
        inner = {"notificationType": "Complaint", "complaint": {
            "complainedRecipients": [{"emailAddress": addr}], "complaintFeedbackType": "abuse",
            "timestamp": "2026-01-05T10:00:00.000Z", "feedbackId": str(uuid.uuid4())}}
    inner["mail"] = {"timestamp": "2026-01-05T09:59:00.000Z", "source": source,
                     "messageId": "0100018d-ses-id", "destination": [addr],
                     "commonHeaders": {"messageId": msgid, "subject": "Thanks"}}
    return keys.sns({"Type": "Notification", "MessageId": str(uuid.uuid4()),
                     "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
                     "Message": json.dumps(inner), "Timestamp": "2026-01-05T10:00:01.000Z"},
                    version)


@test
def ses_through_sns_with_the_pinned_certificate():
    d, srv, keys = esp_setup()
    try:
        s, msgid = sent_to(d, srv, "sam")
        n = ses_notification(keys, "Bounce", s.mail_from, msgid, "sam@example.org")
        bad = dict(n, Message=n["Message"].replace("5.1.1", "5.1.2"))
        eq(post(d, "ses", bad).status, 401, "an altered message: 401")
        check("sam@example.org" not in suppressions(d), "nothing changed by it")
        r = post(d, "ses", n)
        eq((r.status, r.json["processed"], r.json["matched"]), (200, 1, 1), r.raw)
        eq(suppressions(d).get("sam@example.org"), "hard_bounce", "suppressed")
        eq(len(events_of(d, "sam", "bounced")), 1, "event bounced")
        r = post(d, "ses", n)
        eq((r.status, r.json["duplicates"]), (200, 1), "the same notification again: no effect")
        eq(len(events_of(d, "sam", "bounced")), 1, "still one event")
        # SignatureVersion 2 (SHA256withRSA), a complaint.
        s2, msgid2 = sent_to(d, srv, "sue")
        r = post(d, "ses", ses_notification(keys, "Complaint", s2.mail_from, msgid2,
                                            "sue@example.org", version="2"))
        eq((r.status, r.json["matched"]), (200, 1), r.raw)
        eq(d.request("GET", "/v1/customers/sue").json["consent"].get("*"), "unsubscribed",
           "the complaint unsubscribes")
        # The subscription confirmation: its signed SubscribeURL is visited.
        got = []

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                got.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<ConfirmSubscriptionResponse/>")

            def log_message(self, *a):
                pass
        hs = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=hs.serve_forever, daemon=True).start()
        try:
            sub = keys.sns({"Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()),
                            "Token": "tok123", "TopicArn": "arn:aws:sns:eu-west-1:1:ses",
                            "Message": "You have chosen to subscribe...",
                            "SubscribeURL": f"http://127.0.0.1:{hs.server_port}/confirm?t=1",
                            "Timestamp": "2026-01-05T10:00:00.000Z"})
            eq(post(d, "ses", dict(sub, Token="other")).status, 401, "a forged confirmation")
            eq(post(d, "ses", sub).status, 200, "confirmation taken")
            poll(lambda: got == ["/confirm?t=1"], 10, "SubscribeURL visited once")
        finally:
            hs.shutdown()
    finally:
        teardown(d, srv)


@test
def postmark_basic_auth():
    d, srv, keys = esp_setup()
    try:
        sent_to(d, srv, "pia")
        body = {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce",
                "TypeCode": 1, "Name": "Hard bounce", "MessageID": "883953f4-6105-42a2",
                "Description": "The server was unable to deliver your message",
                "Details": "smtp;550 5.1.1 The email account that you tried to reach does not "
                           "exist.", "Email": "pia@example.org", "From": "shop@mail.test.example",
                "BouncedAt": "2026-01-05T10:00:00Z", "Inactive": True}
        wrong = "Basic " + base64.b64encode(f"{PM_USER}:nope".encode()).decode()
        eq(post(d, "postmark", body, {"Authorization": wrong}).status, 401, "wrong password")
        eq(post(d, "postmark", body).status, 401, "no auth")
        check("pia@example.org" not in suppressions(d), "nothing changed")
        ok = "Basic " + base64.b64encode(f"{PM_USER}:{PM_PASS}".encode()).decode()
        r = post(d, "postmark", body, {"Authorization": ok})
        eq((r.status, r.json["processed"]), (200, 1), r.raw)
        eq(suppressions(d).get("pia@example.org"), "hard_bounce", "suppressed by its address")
        ev = events_of(d, "pia", "bounced")
        eq(len(ev), 1, "the customer with that address gets the bounced event")
        eq(ev[0]["properties"].get("address"), "pia@example.org", "naming the address")
    finally:
        teardown(d, srv)


@test
def mailgun_hmac():
    d, srv, keys = esp_setup()
    try:
        _, msgid = sent_to(d, srv, "mia")
        ts, token = str(int(time.time())), uuid.uuid4().hex
        sig = hmac.new(MAILGUN_KEY.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
        body = {"signature": {"timestamp": ts, "token": token, "signature": sig},
                "event-data": {"event": "complained", "id": "-Agny091SquKnsrW2NEKUA",
                               "timestamp": float(ts), "recipient": "mia@example.org",
                               "message": {"headers": {"message-id": msgid.strip("<>"),
                                                       "to": "mia@example.org"}}}}
        bad = json.loads(json.dumps(body))
        bad["signature"]["signature"] = "0" * 64
        eq(post(d, "mailgun", bad).status, 401, "a wrong HMAC")
        eq(len(events_of(d, "mia", "complained")), 0, "nothing changed")
        r = post(d, "mailgun", body)
        eq((r.status, r.json["matched"]), (200, 1), r.raw)
        eq(len(events_of(d, "mia", "complained")), 1, "matched by the Message-ID: complained")
        eq(suppressions(d).get("mia@example.org"), "complaint", "suppressed")
    finally:
        teardown(d, srv)


@test
def sendgrid_ecdsa():
    d, srv, keys = esp_setup()
    try:
        _, msgid = sent_to(d, srv, "gus")
        events = [{"email": "gus@example.org", "timestamp": 1767607200, "smtp-id": msgid,
                   "event": "bounce", "type": "bounce", "status": "5.1.1",
                   "reason": "550 5.1.1 The email account that you tried to reach does not exist",
                   "sg_event_id": "ZGVsaXZlcmVkLTAtMjQ", "sg_message_id": "14c5d75ce93.dfd.64b469"},
                  {"email": "gus@example.org", "timestamp": 1767607201, "event": "delivered",
                   "sg_event_id": "ZGVsaXZlcmVkLTEtMjQ"}]
        raw = json.dumps(events).encode()
        ts = str(int(time.time()))
        h = keys.sendgrid(raw, ts)
        eq(post(d, "sendgrid", None, dict(h, **{
            "X-Twilio-Email-Event-Webhook-Timestamp": str(int(ts) + 1)}), raw=raw).status, 401,
           "another timestamp: 401")
        eq(post(d, "sendgrid", None, h, raw=raw.replace(b"5.1.1", b"4.2.2")).status, 401,
           "an altered payload: 401")
        check("gus@example.org" not in suppressions(d), "nothing changed")
        r = post(d, "sendgrid", None, h, raw=raw)
        eq((r.status, r.json["processed"], r.json["ignored"]), (200, 1, 1), r.raw)
        eq(suppressions(d).get("gus@example.org"), "hard_bounce", "suppressed")
        eq(post(d, "nobody", {}).status, 404, "an unknown provider")
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
