"""Messages that come back after a send, made for the inbound tests from what the test's SMTP
server received: a Postfix DSN, an ARF complaint, a reply quoted the way Gmail quotes."""
import email
import email.policy
import itertools

_n = itertools.count(1)


def headers_of(received):
    """The message the daemon sent, parsed (received: smtp_server.Received)."""
    data = received.data if isinstance(received.data, bytes) else received.data.encode()
    return email.message_from_bytes(data, policy=email.policy.default)


def dsn(to, message_id, rcpt, status="5.1.1",
        diagnostic="550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown", action="failed"):
    """A Postfix bounce to TO (the envelope sender) for the message MESSAGE_ID to RCPT."""
    n = next(_n)
    diag = diagnostic.format(rcpt=rcpt)
    return f"""Return-Path: <>
Delivered-To: {to}
Date: Mon,  5 Jan 2026 10:00:07 +0100 (CET)
From: MAILER-DAEMON@mx.test.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"
Message-Id: <dsn.{n}@mx.test.example>

--B{n}
Content-Type: text/plain

This is the mail system at host mx.test.example.

<{rcpt}>: host mx.example.org said: {diag}

--B{n}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.test.example

Final-Recipient: rfc822; {rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diag}

--B{n}
Content-Type: text/rfc822-headers

From: Shop <shop@mail.test.example>
To: {rcpt}
Message-Id: {message_id}

--B{n}--
""".replace("\n", "\r\n").encode()


def arf(message_id, rcpt, feedback_type="abuse"):
    """An RFC 5965 complaint about MESSAGE_ID, recipient RCPT (a provider's feedback loop)."""
    n = next(_n)
    return f"""From: <fbl@isp.example>
To: <fbl@mail.test.example>
Subject: Abuse report
Date: Mon, 5 Jan 2026 12:00:00 +0000
Message-ID: <arf.{n}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A{n}"

--A{n}
Content-Type: text/plain

A user marked this message as spam.

--A{n}
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: ISPFBL/1.0
Version: 1
Original-Rcpt-To: <{rcpt}>

--A{n}
Content-Type: message/rfc822

From: Shop <shop@mail.test.example>
To: {rcpt}
Subject: Thanks
Message-ID: {message_id}

Thank you.
--A{n}--
""".replace("\n", "\r\n").encode()


def reply(to, message_id, sender, text):
    """A person's answer to MESSAGE_ID, sent to TO (the Reply-To), quoted as Gmail quotes."""
    n = next(_n)
    body = (f"{text}\n\nAm Mo., 5. Jan. 2026 um 10:00 Uhr schrieb Shop <shop@mail.test.example>:\n\n"
            "> Are you happy with it? Just reply with a number.\n")
    return (f"From: Customer <{sender}>\nTo: {to}\nSubject: Re: How is everything?\n"
            f"Date: Mon, 5 Jan 2026 12:00:00 +0000\nMessage-ID: <reply.{n}@gmail.example>\n"
            f"In-Reply-To: {message_id}\nReferences: {message_id}\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            f"{body}").replace("\n", "\r\n").encode("utf-8")
