/*
 * Bounces that are not (only) RFC 3464: qmail, Yahoo, old Exchange, Lotus Domino, Exim and
 * Sendmail without a delivery-status part, and the words of every bounce, which decide whether
 * a failure is hard. The phrases are those the MTAs and providers write; the hard/soft rules
 * follow established bounce processors: the diagnostic first, class 4 always soft, 5.1.x
 * addressing failures hard, full mailboxes, policy and spam blocks, rate limits, expiry and
 * network failures soft.
 */
#include <ctype.h>
#include <glib.h>
#include <string.h>
#include <strings.h>

#include "inbound_int.h"
#include "util.h"

static int
inbound_has_any(const char *text, const char *const *words, size_t n)
{
	if (text == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcasestr(text, words[i]) != NULL)
			return 1;
	return 0;
}
#define HAS_ANY(text, words) inbound_has_any((text), (words), NT_ARRAY_LEN(words))

/* The address will not work again. */
static const char *const hard_words[] = {
    "user unknown",
    "unknown user",
    "unknown recipient",
    "unknown address",
    "no such user",
    "no such recipient",
    "no such mailbox",
    "no mailbox here",
    "mailbox not found",
    "mailbox unavailable",
    "mailbox does not exist",
    "does not exist",
    "doesn't exist",
    "not exist",
    "recipient not found",
    "recipientnotfound",
    "address not found",
    "couldn't be found",
    "could not be found",
    "invalid recipient",
    "invalid mailbox",
    "invalid address",
    "not listed in domino directory",
    "not listed in public name",
    "user not found",
    "account has been disabled",
    "account is disabled",
    "account disabled",
    "is disabled",
    "has been deactivated",
    "account closed",
    "account has been closed",
    "no longer",
    "has moved",
    "doesn't have a",
    "does not have a",
    "unrouteable address",
    "host or domain name not found",
    "domain not found",
    "no such domain",
    "domain does not exist",
    "nxdomain",
    "null mx",
    "bad destination mailbox",
    "unbekannt",
    "existiert nicht",
};

/* Not the address's fault, or not for good. */
static const char *const soft_words[] = {
    "mailbox full",
    "mailbox is full",
    "over quota",
    "quota exceeded",
    "exceeded storage",
    "insufficient",
    "out of storage",
    "storage space",
    "too many",
    "rate limit",
    "rate-limit",
    "ratelimit",
    "throttl",
    "try again",
    "temporar",
    "greylist",
    "graylist",
    "spam",
    "blocked",
    "blacklist",
    "blocklist",
    "block list",
    "reputation",
    "policy",
    "timed out",
    "timeout",
    "expired",
    "connection refused",
    "relay access",
    "too large",
    "message size",
    "size limit",
    "dmarc",
    "spf",
    "dkim",
    "not authorized",
    "postfach voll",
};

int
inbound_is_hard(const char *status, const char *diagnostic)
{
	int a = 0, b = 0, c = 0;
	int has_status = status != NULL && sscanf(status, "%d.%d.%d", &a, &b, &c) == 3;

	if (has_status && a != 5)
		return 0;
	if (diagnostic != NULL) {
		/* A full mailbox beats "user": "user's mailbox is full". */
		static const char *const full[] = {"full", "quota", "insufficient", "storage"};
		if (HAS_ANY(diagnostic, full))
			return 0;
		if (HAS_ANY(diagnostic, hard_words))
			return 1;
		if (HAS_ANY(diagnostic, soft_words))
			return 0;
	}
	if (!has_status)
		return 0;
	if (b == 1)
		return c == 1 || c == 2 || c == 3 || c == 6 || c == 10;
	if (b == 2)
		return c == 1; /* disabled; 5.2.2 full and 5.2.3 too large are soft */
	return 0;
}

char *
inbound_status_in_text(const char *text)
{
	const char *p;

	if (text == NULL)
		return NULL;
	for (p = text; *p; p++) {
		if ((*p == '2' || *p == '4' || *p == '5') && p[1] == '.' &&
		    (p == text || !isalnum((unsigned char)p[-1])) && isdigit((unsigned char)p[2])) {
			int a, b, c, n = 0;
			if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 &&
			    !isdigit((unsigned char)p[n]) && p[n] != '.')
				return xasprintf("%d.%d.%d", a, b, c);
		}
	}
	for (p = text; *p; p++) {
		if ((*p == '4' || *p == '5') && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) && (p == text || !isalnum((unsigned char)p[-1])) &&
		    (p[3] == ' ' || p[3] == '-' || p[3] == ':' || p[3] == '\0') &&
		    (p == text || p[-1] == ' ' || p[-1] == '<' || p[-1] == ';' || p[-1] == '(' ||
		     p[-1] == '\n' || p[-1] == '\t' || p[-1] == '"' || p[-1] == ':'))
			return xasprintf("%c.0.0", *p);
	}
	return NULL;
}

int
inbound_daemon_sender(const char *from)
{
	static const char *const locals[] = {"mailer-daemon@", "postmaster@", "mail-daemon@",
					     "mailerdaemon@",  "bounce@",     "bounces@"};
	if (from == NULL || *from == '\0')
		return 1; /* the null sender: bounces come from <> */
	for (size_t i = 0; i < NT_ARRAY_LEN(locals); i++)
		if (g_ascii_strncasecmp(from, locals[i], strlen(locals[i])) == 0)
			return 1;
	return 0;
}

static const char *const bounce_subjects[] = {
    "undeliverable",	     "undelivered mail",
    "undeliverable mail",    "delivery status notification",
    "failure notice",	     "mail delivery failed",
    "mail delivery failure", "returned mail",
    "delivery failure",	     "delivery failed",
    "delivery has failed",   "mail delivery status",
    "nondeliverable",	     "non-deliverable",
    "delayed mail",	     "delivery delayed",
    "warning: message",	     "could not be delivered",
    "unzustellbar",	     "nicht zustellbar",
    "mail system error",     "returned to sender",
};

static const char *const bounce_openings[] = {
    "this is the qmail-send program",
    "this is the mail system at host",
    "this message was created automatically by mail delivery software",
    "the original message was received at",
    "delivery has failed to these recipients",
    "your message did not reach some or all of the intended recipients",
    "your message wasn't delivered",
    "the following recipient(s) cannot be reached",
    "sorry, we were unable to deliver your message",
    "an error occurred while trying to deliver the mail",
    "was not delivered to",
    "i'm afraid i wasn't able to deliver",
    "the following addresses had permanent fatal errors",
    "delivery to the following recipient failed",
    "delivery to the following recipients failed",
    "message could not be delivered",
};

int
inbound_bounce_like(const char *from, const char *subject, const char *text)
{
	if (HAS_ANY(subject, bounce_subjects))
		return 1;
	if (inbound_daemon_sender(from) && from != NULL && *from != '\0')
		return 1;
	/* Only the opening, not a quoted bounce further down a reply. */
	char *head = xstrndup(text, 2000);
	int yes = HAS_ANY(head, bounce_openings);
	free(head);
	return yes;
}

int
inbound_auto_subject(const char *s)
{
	static const char *const words[] = {
	    "out of office",
	    "out of the office",
	    "automatic reply",
	    "auto reply",
	    "autoreply",
	    "auto-reply",
	    "auto response",
	    "autoresponse",
	    "automatische antwort",
	    "abwesenheit",
	    "abwesend",
	    "außer haus",
	    "nicht im büro",
	    "vacation",
	    "urlaub",
	    "away from",
	    "réponse automatique",
	    "absence",
	    "risposta automatica",
	    "respuesta automática",
	    "fuera de la oficina",
	};
	if (s == NULL)
		return 0;
	while (*s == ' ')
		s++;
	if (g_ascii_strncasecmp(s, "auto:", 5) == 0 || g_ascii_strncasecmp(s, "autosvar", 8) == 0)
		return 1;
	return HAS_ANY(s, words);
}

/* Where the quoted original begins in a bounce's text: nothing after it names recipients. */
static size_t
inbound_report_end(const char *text)
{
	static const char *const markers[] = {
	    "--- below this line is a copy of the message",
	    "------ this is a copy of the message",
	    "----- original message -----",
	    "----- original message follows",
	    "original message headers:",
	    "------ original message",
	    "----- the header of the original message",
	    "--- original message follows",
	    "\nreturn-path:",
	    "\nreceived: from",
	    "\ndkim-signature:",
	};
	size_t end = strlen(text);
	for (size_t i = 0; i < NT_ARRAY_LEN(markers); i++) {
		const char *p = strcasestr(text, markers[i]);
		if (p != NULL && (size_t)(p - text) < end)
			end = p - text;
	}
	return end;
}

static int
inbound_addr_char(int c)
{
	return isalnum(c) || (c != 0 && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* Whether ADDR is one of C's own (the bounce's sender, where it went). */
static int
inbound_addr_own(const struct inbound_class *c, const char *addr)
{
	if (inbound_daemon_sender(addr))
		return 1;
	if (c->from != NULL && strcmp(c->from, addr) == 0)
		return 1;
	for (size_t i = 0; c->to_addrs != NULL && c->to_addrs[i] != NULL; i++)
		if (strcmp(c->to_addrs[i], addr) == 0)
			return 1;
	return 0;
}

/* One found address and where it first stands in the text. */
struct inbound_hit {
	char *addr;
	size_t at;
};

/* The line holding AT, trimmed, as a new string. */
static char *
inbound_line_at(const char *text, size_t at, size_t end)
{
	const char *b = text + at, *e = text + at;
	while (b > text && b[-1] != '\n')
		b--;
	while (e < text + end && *e != '\n')
		e++;
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	return inbound_utf8(b, e - b);
}

/*
 * The diagnostic for a recipient mentioned at AT: the first line up to NEXT (the next
 * recipient) or 15 lines on that holds an SMTP code, else the first line after the
 * recipient's that is not a label ending in ':'. *WINDOW gets all those lines, for the hard
 * decision.
 */
static char *
inbound_diag_near(const char *text, size_t at, size_t next, char **window)
{
	const char *p = text + at;
	const char *line_end = strchr(p, '\n');
	const char *limit = text + next;
	char *code_line = NULL, *first_line = NULL;
	int lines = 0;

	/* The recipient's own line may carry the reason (qmail, Domino, Gmail). */
	char *own = inbound_line_at(text, at, next);
	GString *win = g_string_new(own);
	char *st = inbound_status_in_text(own);
	if (st != NULL) {
		code_line = own;
		own = NULL;
		free(st);
	}
	p = line_end ? line_end + 1 : text + strlen(text);
	while (p < limit && lines < 15) {
		const char *e = memchr(p, '\n', limit - p);
		const char *le = e ? e : limit;
		char *l = inbound_utf8(p, le - p);
		g_strstrip(l);
		lines++;
		if (*l != '\0') {
			g_string_append_c(win, ' ');
			g_string_append(win, l);
			st = inbound_status_in_text(l);
			if (code_line == NULL && st != NULL)
				code_line = xstrdup(l);
			else if (first_line == NULL && l[strlen(l) - 1] != ':' && st == NULL)
				first_line = xstrdup(l);
			free(st);
		}
		free(l);
		if (code_line != NULL && first_line != NULL)
			break;
		p = e ? e + 1 : limit;
	}
	free(own);
	*window = g_string_free(win, FALSE);
	if (code_line != NULL) {
		free(first_line);
		return code_line;
	}
	return first_line;
}

void
inbound_bounce_text(const char *text, struct inbound_class *c, int dsn_seen)
{
	size_t end = inbound_report_end(text);
	struct inbound_hit *hits = NULL;
	size_t nhits = 0;
	static const char *const delay_words[] = {
	    "will continue to try",
	    "will keep trying",
	    "still being retried",
	    "has been delayed",
	    "not yet been delivered",
	    "this is a warning message only",
	    "delivery delayed",
	    "delayed mail",
	    "will retry",
	    "will be retried",
	    "warning: message",
	    "delivery status notification (delay)",
	    "you do not need to resend",
	    "verzögert",
	};
	static const char *const permanent_words[] = {
	    "permanent",
	    "fatal",
	    "given up",
	    "giving up",
	    "could not be delivered",
	    "wasn't delivered",
	    "was not delivered",
	    "failed",
	    "undeliverable",
	    "cannot be reached",
	};
	(void)dsn_seen;

	/* Every address in the report part, in order of first mention. */
	for (size_t i = 0; i < end && nhits < INBOUND_MAX_RCPTS + 1; i++) {
		if (text[i] != '@' || i == 0 || !inbound_addr_char((unsigned char)text[i - 1]))
			continue;
		size_t b = i, e = i + 1;
		while (b > 0 && inbound_addr_char((unsigned char)text[b - 1]))
			b--;
		while (e < end && (inbound_addr_char((unsigned char)text[e]) && text[e] != '/'))
			e++;
		while (e > i + 1 && (text[e - 1] == '.' || text[e - 1] == '-'))
			e--;
		char *raw = xstrndup(text + b, e - b);
		char *a = inbound_addr_norm(raw);
		free(raw);
		i = e;
		if (a == NULL || strchr(strchr(a, '@'), '.') == NULL || inbound_addr_own(c, a)) {
			free(a);
			continue;
		}
		size_t k;
		for (k = 0; k < nhits; k++)
			if (strcmp(hits[k].addr, a) == 0)
				break;
		if (k < nhits) {
			free(a);
			continue;
		}
		hits = xrealloc(hits, (nhits + 1) * sizeof(*hits));
		hits[nhits].addr = a;
		hits[nhits].at = b;
		nhits++;
	}
	if (nhits == 0)
		return;

	char *subject_and_text =
	    xasprintf("%s\n%.*s", c->subject ? c->subject : "", (int)end, text);
	int delayed = HAS_ANY(subject_and_text, delay_words) &&
		      strcasestr(subject_and_text, "permanent") == NULL &&
		      strcasestr(subject_and_text, "failure notice") == NULL;
	int permanent = HAS_ANY(subject_and_text, permanent_words);
	free(subject_and_text);
	for (size_t k = 0; k < nhits; k++) {
		size_t next = k + 1 < nhits ? hits[k + 1].at : end;
		char *window = NULL;
		char *diag = inbound_diag_near(text, hits[k].at, next, &window);
		char *st = inbound_status_in_text(diag);
		if (st == NULL)
			st = inbound_status_in_text(window);
		if (st == NULL)
			st = xstrdup(delayed ? "4.0.0" : permanent ? "5.0.0" : "4.0.0");
		int hard = !delayed && inbound_is_hard(st, window);
		int idx = (int)c->nrcpts;
		if (inbound_rcpt_add(c, hits[k].addr, st, xstrdup(delayed ? "delayed" : "failed"),
				     diag) == 0)
			c->rcpts[idx].hard = hard;
		hits[k].addr = NULL;
		free(window);
	}
	for (size_t k = 0; k < nhits; k++)
		free(hits[k].addr);
	free(hits);
	c->kind = delayed ? INBOUND_DELAY : INBOUND_BOUNCE;
}

char *
inbound_inline_msgid(const char *text)
{
	const char *p = text;

	while ((p = strcasestr(p, "message-id:")) != NULL) {
		if (p != text && p[-1] != '\n' && p[-1] != ' ') {
			p++;
			continue;
		}
		const char *lt = strchr(p, '<');
		const char *eol = strchr(p, '\n');
		if (lt != NULL && (eol == NULL || lt < eol)) {
			const char *gt = strchr(lt, '>');
			if (gt != NULL && gt - lt > 3 && gt - lt < 250 && (eol == NULL || gt < eol))
				return inbound_utf8(lt + 1, gt - lt - 1);
		}
		p++;
	}
	return NULL;
}
