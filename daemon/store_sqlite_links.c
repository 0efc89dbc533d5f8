/* The SQLite backend's side of click tracking (issue 19): link targets, clicks, counters. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"
#include "util.h"

static const char *const store_sqlite_links_sql[L_COUNT] = {
    [L_ADD] = "INSERT INTO links (outbox_id, idx, url, name) VALUES (?1, ?2, ?3, ?4)",
    [L_TARGET] = "SELECT l.url FROM outbox o JOIN links l ON l.outbox_id = o.id"
		 " WHERE o.message_id = ?1 AND l.idx = ?2",
    [L_FIRST] = "UPDATE links SET first_ms = ?3 WHERE outbox_id = ?1 AND idx = ?2"
		" AND first_ms IS NULL",
    [L_CLICK] = "UPDATE links SET clicks = clicks + 1 WHERE outbox_id = ?1 AND idx = ?2",
    /* The link, and how many of the message's links have been clicked (now). */
    [L_GET] = "SELECT url, name, (SELECT count(*) FROM links m WHERE m.outbox_id = ?1"
	      " AND m.first_ms IS NOT NULL) FROM links WHERE outbox_id = ?1 AND idx = ?2",
    [L_COUNT_ADD] = "INSERT INTO measure_counts (campaign_id, step_id, variant, metric, n)"
		    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (campaign_id, step_id, variant,"
		    " metric) DO UPDATE SET n = n + excluded.n",
};

int
store_sqlite_links_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_links_sql, s->lk, L_COUNT, "links", err,
					errlen);
}

void
store_sqlite_links_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->lk, L_COUNT);
}

void
link_click_clear(struct link_click *c)
{
	free(c->url);
	free(c->name);
	outbox_ref_clear(&c->ref);
	memset(c, 0, sizeof(*c));
}

enum store_status
store_sqlite_links_add(struct store *st, int64_t id, json_t *links)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->lk[L_ADD];
	enum store_status rc = STORE_OK;
	size_t i;
	json_t *l;

	json_array_foreach(links, i, l)
	{
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)i);
		store_sqlite_bind_text(q, 3, json_string_value(json_object_get(l, "url")));
		store_sqlite_bind_text(q, 4, json_string_value(json_object_get(l, "name")) ?: "");
		if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
			break;
	}
	return rc;
}

enum store_status
store_sqlite_link_target(struct store *st, const char *message_id, int idx, char **url)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->lk[L_TARGET];
	enum store_status rc = STORE_NOTFOUND;
	int step;

	*url = NULL;
	sqlite3_bind_text(q, 1, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, idx);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*url = xstrdup((const char *)sqlite3_column_text(q, 0));
		rc = STORE_OK;
	} else if (step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

/* Adds N to a counter of the campaign's step (issue 19's statistics). */
static enum store_status
store_sqlite_count_add(struct store_sqlite *s, const char *campaign, const char *step,
		       const char *variant, const char *metric, double n)
{
	sqlite3_stmt *q = s->lk[L_COUNT_ADD];
	store_sqlite_bind_text(q, 1, campaign);
	store_sqlite_bind_text(q, 2, step);
	store_sqlite_bind_text(q, 3, variant);
	store_sqlite_bind_text(q, 4, metric);
	sqlite3_bind_double(q, 5, n);
	return store_sqlite_exec(s, q);
}

enum store_status
store_sqlite_link_click(struct store *st, const char *message_id, int idx, int64_t now_ms,
			struct link_click *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	enum store_status rc;
	long clicked = 0;
	int step;

	memset(out, 0, sizeof(*out));
	if ((rc = store_sqlite_outbox_ref(st, 0, message_id, &out->ref)) != STORE_OK)
		return rc;
	q = s->lk[L_FIRST];
	sqlite3_bind_int64(q, 1, out->ref.id);
	sqlite3_bind_int(q, 2, idx);
	sqlite3_bind_int64(q, 3, now_ms);
	if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
		return rc;
	out->first = sqlite3_changes(s->db) > 0;
	q = s->lk[L_CLICK];
	sqlite3_bind_int64(q, 1, out->ref.id);
	sqlite3_bind_int(q, 2, idx);
	if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return STORE_NOTFOUND;
	q = s->lk[L_GET];
	sqlite3_bind_int64(q, 1, out->ref.id);
	sqlite3_bind_int(q, 2, idx);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		out->url = xstrdup((const char *)sqlite3_column_text(q, 0));
		out->name = xstrdup((const char *)sqlite3_column_text(q, 1));
		clicked = sqlite3_column_int64(q, 2);
		rc = STORE_OK;
	} else
		rc = step == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != STORE_OK)
		return rc;
	const char *camp = out->ref.campaign_id ?: "", *stp = out->ref.step_id ?: "";
	char *metric = xasprintf("link:%s", out->url);
	rc = store_sqlite_count_add(s, camp, stp, "", "clicks", 1);
	if (rc == STORE_OK)
		rc = store_sqlite_count_add(s, camp, stp, "", metric, 1);
	/* The message's first click: it counts once toward "clicked" (unique messages). */
	if (rc == STORE_OK && out->first && clicked == 1)
		rc = store_sqlite_count_add(s, camp, stp, "", "clicked", 1);
	free(metric);
	return rc;
}
