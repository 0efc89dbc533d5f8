/*
 * The MIME pool against mime_build itself: every result in submission order and byte for byte
 * what a build on this thread gives, refusals reported with mime_build's reason, a drain after
 * a rollback dropping everything, and a pool freed with builds still queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "mimepool.h"
#include "tap.h"

#define JOBS 500

/* Mail number I: every tenth has a To name with a line break, which mime_build refuses. */
static struct mime_mail *
mail(int i, char *name, char *id, size_t sz)
{
	snprintf(name, sz, i % 10 == 3 ? "Kundin\n%d" : "K\xc3\xbcndin %d", i);
	snprintf(id, sz, "<%d.pool@shop.example>", i);
	struct mime_mail m = {.from_name = "Shop",
			      .from_addr = "news@shop.example",
			      .to_name = name,
			      .to_addr = "k@example.com",
			      .subject = "Gr\xc3\xbc\xc3\x9f"
					 "e",
			      .text = "Hallo,\nwie geht's?\n",
			      .html = i % 2 ? "<p>Hallo</p>\n" : NULL,
			      .message_id = id,
			      .date_ms = 1764590400000LL + i};
	return mime_mail_dup(&m);
}

struct seen {
	int n, in_order, same, refused;
};

static int
collect(int64_t id, const char *payload, size_t len, const char *err, void *arg)
{
	struct seen *s = arg;
	char name[64], msgid[64], *want = NULL, *werr = NULL;
	size_t wlen = 0;
	struct mime_mail *m = mail((int)id, name, msgid, sizeof(name));

	s->in_order += id == s->n;
	s->n++;
	mime_build(m, &want, &wlen, &werr);
	if (err != NULL)
		s->refused += werr != NULL && strcmp(err, werr) == 0 && payload == NULL;
	else if (m->html == NULL)
		s->same += want != NULL && wlen == len && memcmp(want, payload, len) == 0;
	else /* the multipart boundary is random: the same shape, another boundary */
		s->same += want != NULL && wlen == len &&
			   strstr(payload, "multipart/alternative") != NULL &&
			   strstr(payload, "<p>Hallo</p>") != NULL;
	free(want);
	free(werr);
	mime_mail_free(m);
	return 0;
}

static int
stop_at_two(int64_t id, const char *payload, size_t len, const char *err, void *arg)
{
	(void)payload;
	(void)len;
	(void)err;
	(*(int *)arg)++;
	return id == 2 ? 7 : 0;
}

int
main(void)
{
	char name[64], id[64];
	struct mimepool *p = mimepool_new(3);
	struct seen s = {0};

	mime_init();
	for (int i = 0; i < JOBS; i++)
		mimepool_submit(p, i, mail(i, name, id, sizeof(name)));
	test_ok(mimepool_pending(p) == JOBS, "%zu builds pending", mimepool_pending(p));
	test_ok(mimepool_drain(p, collect, &s) == 0, "drained");
	test_ok(s.n == JOBS && s.in_order == JOBS, "every result, in submission order (%d, %d)",
		s.n, s.in_order);
	test_ok(s.same == JOBS - JOBS / 10,
		"%d payloads as mime_build's (byte for byte but the boundary)", s.same);
	test_ok(s.refused == JOBS / 10, "%d refusals with mime_build's reason", s.refused);
	test_ok(mimepool_pending(p) == 0, "nothing pending after a drain");

	for (int i = 0; i < 50; i++)
		mimepool_submit(p, i, mail(i, name, id, sizeof(name)));
	test_ok(mimepool_drain(p, NULL, NULL) == 0 && mimepool_pending(p) == 0,
		"a drain without a function drops the builds (a rollback)");

	int calls = 0;
	for (int i = 0; i < 10; i++)
		mimepool_submit(p, i, mail(i, name, id, sizeof(name)));
	int drc = mimepool_drain(p, stop_at_two, &calls);
	test_ok(drc == 7 && calls == 3, "the first failing result ends the drain (%d calls)",
		calls);

	for (int i = 0; i < 200; i++)
		mimepool_submit(p, i, mail(i, name, id, sizeof(name)));
	/*
	 * Freed with builds queued and running: a hang fails the test by its timeout, a leak or a
	 * use after free fails it under the sanitizers (test.sh with NURTURED_SANITIZERS=1).
	 */
	test_ok(mimepool_pending(p) == 200, "%zu builds queued or running when the pool is freed",
		mimepool_pending(p));
	mimepool_free(p);
	mimepool_free(NULL);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
