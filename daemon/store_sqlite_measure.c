/*
 * The SQLite backend's side of measuring success (issue 19): link targets and clicks,
 * conversions credited to a message, and the counters statistics read.
 */
#include <sqlite3.h>
#include <stdio.h>
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
    [L_CLICK] = "UPDATE links SET clicks = clicks + 1, last_ms = ?3 WHERE outbox_id = ?1"
		" AND idx = ?2",
    /* The link, and how many of the message's links have been clicked (now). */
    [L_GET] = "SELECT url, name, (SELECT count(*) FROM links m WHERE m.outbox_id = ?1"
	      " AND m.first_ms IS NOT NULL) FROM links WHERE outbox_id = ?1 AND idx = ?2",
    [L_COUNT_ADD] = "INSERT INTO measure_counts (campaign_id, step_id, variant, metric, n)"
		    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (campaign_id, step_id, variant,"
		    " metric) DO UPDATE SET n = n + excluded.n",
    /* Attribution: the customer's messages of the campaign go by outbox_customer. */
    [L_ATTR_CLICK] = "SELECT o.id, o.step_id FROM outbox o JOIN links l ON l.outbox_id = o.id"
		     " WHERE o.customer_id = ?1 AND o.campaign_id = ?2 AND l.last_ms >= ?3"
		     " ORDER BY l.last_ms DESC, o.id DESC LIMIT 1",
    [L_ATTR_SENT] = "SELECT id, step_id FROM outbox WHERE customer_id = ?1 AND campaign_id = ?2"
		    " AND created_ms >= ?3 AND state <> 'skipped'"
		    " ORDER BY created_ms DESC, id DESC LIMIT 1",
    [L_CONV_SEEN] = "SELECT count(*), coalesce(max(revenue), 0) FROM conversions"
		    " WHERE event_seq = ?1",
    [L_CONV_ADD] = "INSERT INTO conversions (campaign_id, journey_id, customer_id, event_seq,"
		   " outbox_id, step_id, variant, via, revenue, at_ms) VALUES (?1, ?2, ?3, ?4,"
		   " ?5, ?6, ?7, ?8, ?9, ?10)",
    [L_ASSIGN_ADD] = "INSERT INTO assignments (journey_id, campaign_id, exp_version,"
		     " customer_id, arm, variants, assigned_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
		     " ?7) ON CONFLICT (journey_id) DO NOTHING",
    [L_ASSIGN_GET] = "SELECT campaign_id, exp_version, customer_id, arm, variants, assigned_ms"
		     " FROM assignments WHERE journey_id = ?1",
    [L_ASSIGN_CONVERT] = "UPDATE assignments SET converted_ms = ?4 WHERE journey_id = (SELECT"
			 " journey_id FROM assignments WHERE customer_id = ?1 AND campaign_id ="
			 " ?2 AND assigned_ms >= ?3 AND converted_ms IS NULL ORDER BY"
			 " assigned_ms DESC LIMIT 1) RETURNING arm",
    /* The arm of a message's journey, and whether the journey had a click before. */
    [L_ARM_OF_OUTBOX] = "SELECT coalesce((SELECT arm FROM assignments a WHERE a.journey_id ="
			" o.journey_id), ''), (SELECT count(*) FROM outbox x JOIN links l ON"
			" l.outbox_id = x.id WHERE x.journey_id = o.journey_id AND l.first_ms IS"
			" NOT NULL) FROM outbox o WHERE o.id = ?1",
    /* The customer's last marketing mail (outbox_marketing), with its journey's arm. */
    [L_LAST_MARKETING] = "SELECT o.campaign_id, o.step_id, coalesce((SELECT arm FROM"
			 " assignments a WHERE a.journey_id = o.journey_id), '') FROM outbox o"
			 " WHERE o.customer_id = ?1 AND o.marketing = 1 AND o.state <> 'skipped'"
			 " AND o.journey_id <> 0 ORDER BY o.created_ms DESC LIMIT 1",
    [L_READ] = "SELECT step_id, variant, metric, n FROM measure_counts WHERE campaign_id = ?1",
    /* From the inbound side (CROSS JOIN keeps that order): a campaign's outbox is large. */
    [L_INBOUND] = "SELECT o.step_id, coalesce((SELECT arm FROM assignments a WHERE"
		  " a.journey_id = o.journey_id), ''), i.kind, count(*) FROM inbound i CROSS JOIN"
		  " outbox o ON o.id = i.outbox_id WHERE i.outbox_id IS NOT NULL AND"
		  " o.campaign_id = ?1 GROUP BY 1, 2, 3",
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
enum store_status
store_sqlite_measure_count(struct store *st, const char *campaign, const char *step,
			   const char *variant, const char *metric, double n)
{
	struct store_sqlite *s = SQ(st);
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
	sqlite3_bind_int64(q, 3, now_ms);
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
	/* The arm of the message's journey, and how many of the journey's links were clicked. */
	char *arm = NULL;
	long journey_clicked = 0;
	q = s->lk[L_ARM_OF_OUTBOX];
	sqlite3_bind_int64(q, 1, out->ref.id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		arm = xstrdup((const char *)sqlite3_column_text(q, 0));
		journey_clicked = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	const char *camp = out->ref.campaign_id ?: "", *stp = out->ref.step_id ?: "";
	const char *v = arm ? arm : "";
	char *metric = xasprintf("link:%s", out->url);
	rc = store_sqlite_measure_count(st, camp, stp, v, "clicks", 1);
	if (rc == STORE_OK)
		rc = store_sqlite_measure_count(st, camp, stp, v, metric, 1);
	/* The message's first click: it counts once toward "clicked" (unique messages). */
	if (rc == STORE_OK && out->first && clicked == 1)
		rc = store_sqlite_measure_count(st, camp, stp, v, "clicked", 1);
	/* The journey's first click: its customer counts once toward the arm's "clickers". */
	if (rc == STORE_OK && out->first && journey_clicked == 1)
		rc = store_sqlite_measure_count(st, camp, "*", v, "clickers", 1);
	free(arm);
	free(metric);
	return rc;
}

/* The message of statement Q (customer, campaign, since): 1 with its id and step, 0 if none. */
static int
store_sqlite_attr_find(struct store_sqlite *s, sqlite3_stmt *q, const struct conversion *c,
		       int64_t *id, char *step, size_t steplen, enum store_status *rc)
{
	int found = 0, r;

	sqlite3_bind_int64(q, 1, c->customer_id);
	sqlite3_bind_text(q, 2, c->campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, c->since_ms);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		snprintf(step, steplen, "%s", (const char *)sqlite3_column_text(q, 1));
		found = 1;
	} else if (r != SQLITE_DONE)
		*rc = store_sqlite_status(s, r);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return found;
}

enum store_status
store_sqlite_conversion_credit(struct store *st, struct conversion *c)
{
	struct store_sqlite *s = SQ(st);
	enum store_status rc = STORE_OK;
	sqlite3_stmt *q;
	long seen = 0;
	double most = 0;

	c->outbox_id = 0;
	c->step_id[0] = '\0';
	c->via = "none";
	if (store_sqlite_attr_find(s, s->lk[L_ATTR_CLICK], c, &c->outbox_id, c->step_id,
				   sizeof(c->step_id), &rc))
		c->via = "click";
	else if (rc == STORE_OK && store_sqlite_attr_find(s, s->lk[L_ATTR_SENT], c, &c->outbox_id,
							  c->step_id, sizeof(c->step_id), &rc))
		c->via = "send";
	if (rc != STORE_OK)
		return rc;
	q = s->lk[L_CONV_SEEN];
	sqlite3_bind_int64(q, 1, c->event_seq);
	if (sqlite3_step(q) == SQLITE_ROW) {
		seen = sqlite3_column_int64(q, 0);
		most = sqlite3_column_double(q, 1);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	q = s->lk[L_CONV_ADD];
	sqlite3_bind_text(q, 1, c->campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, c->journey_id);
	sqlite3_bind_int64(q, 3, c->customer_id);
	sqlite3_bind_int64(q, 4, c->event_seq);
	if (c->outbox_id > 0) {
		sqlite3_bind_int64(q, 5, c->outbox_id);
		sqlite3_bind_text(q, 6, c->step_id, -1, SQLITE_STATIC);
	}
	sqlite3_bind_text(q, 7, c->variant ? c->variant : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, c->via, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 9, c->revenue);
	sqlite3_bind_int64(q, 10, c->at_ms);
	if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
		return rc;
	/*
	 * Counted on the step credited ("" when no message was found), and once per event across
	 * campaigns under the campaign "*": the de-duplicated total, whose revenue for an event
	 * is the largest any campaign credited it with (campaigns may name different values).
	 */
	const char *v = c->variant ? c->variant : "";
	if ((rc = store_sqlite_measure_count(&s->base, c->campaign_id, c->step_id, v, "converted",
					     1)) != STORE_OK ||
	    (rc = store_sqlite_measure_count(&s->base, c->campaign_id, c->step_id, v, "revenue",
					     c->revenue)) != STORE_OK)
		return rc;
	if (seen == 0 &&
	    (rc = store_sqlite_measure_count(&s->base, "*", "", "", "converted", 1)) != STORE_OK)
		return rc;
	if (c->revenue > most || (seen == 0 && c->revenue != 0))
		rc = store_sqlite_measure_count(&s->base, "*", "", "", "revenue",
						seen == 0 ? c->revenue : c->revenue - most);
	return rc;
}

void
assignment_clear(struct assignment *a)
{
	free(a->campaign_id);
	free(a->exp_version);
	free(a->arm);
	json_decref(a->variants);
	memset(a, 0, sizeof(*a));
}

enum store_status
store_sqlite_assignment_add(struct store *st, const struct assignment *a)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->lk[L_ASSIGN_ADD];
	char *v = json_dumps(a->variants, JSON_COMPACT | JSON_SORT_KEYS);

	sqlite3_bind_int64(q, 1, a->journey_id);
	store_sqlite_bind_text(q, 2, a->campaign_id);
	store_sqlite_bind_text(q, 3, a->exp_version);
	sqlite3_bind_int64(q, 4, a->customer_id);
	store_sqlite_bind_text(q, 5, a->arm);
	store_sqlite_bind_text(q, 6, v ? v : "{}");
	sqlite3_bind_int64(q, 7, a->assigned_ms);
	free(v);
	return store_sqlite_exec(s, q);
}

enum store_status
store_sqlite_assignment_get(struct store *st, int64_t journey_id, struct assignment *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->lk[L_ASSIGN_GET];
	enum store_status rc = STORE_NOTFOUND;
	int step;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(q, 1, journey_id);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		out->journey_id = journey_id;
		out->campaign_id = xstrdup((const char *)sqlite3_column_text(q, 0));
		out->exp_version = xstrdup((const char *)sqlite3_column_text(q, 1));
		out->customer_id = sqlite3_column_int64(q, 2);
		out->arm = xstrdup((const char *)sqlite3_column_text(q, 3));
		out->variants = json_loads((const char *)sqlite3_column_text(q, 4), 0, NULL);
		out->assigned_ms = sqlite3_column_int64(q, 5);
		rc = STORE_OK;
	} else if (step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

enum store_status
store_sqlite_experiment_convert(struct store *st, const char *campaign, int64_t customer_id,
				int64_t since_ms, int64_t now_ms, double revenue, char **arm)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->lk[L_ASSIGN_CONVERT];
	enum store_status rc = STORE_NOTFOUND;
	int step;

	*arm = NULL;
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_ms);
	sqlite3_bind_int64(q, 4, now_ms);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*arm = xstrdup((const char *)sqlite3_column_text(q, 0));
		rc = STORE_OK;
		step = sqlite3_step(q);
	}
	if (step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == STORE_OK &&
	    ((rc = store_sqlite_measure_count(st, campaign, "*", *arm, "converted", 1)) !=
		 STORE_OK ||
	     (rc = store_sqlite_measure_count(st, campaign, "*", *arm, "revenue", revenue)) !=
		 STORE_OK)) {
		free(*arm);
		*arm = NULL;
	}
	return rc;
}

enum store_status
store_sqlite_unsubscribe_credit(struct store *st, int64_t customer_id)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->lk[L_LAST_MARKETING];
	char *camp = NULL, *step = NULL, *arm = NULL;
	enum store_status rc = STORE_OK;
	int r;

	sqlite3_bind_int64(q, 1, customer_id);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		camp = xstrdup((const char *)sqlite3_column_text(q, 0));
		step = xstrdup((const char *)sqlite3_column_text(q, 1));
		arm = xstrdup((const char *)sqlite3_column_text(q, 2));
	} else if (r != SQLITE_DONE)
		rc = store_sqlite_status(s, r);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == STORE_OK && camp != NULL) {
		rc = store_sqlite_measure_count(st, camp, step, arm, "unsubscribes", 1);
		if (rc == STORE_OK && arm[0])
			rc = store_sqlite_measure_count(st, camp, "*", arm, "unsubscribes", 1);
	}
	free(camp);
	free(step);
	free(arm);
	return rc;
}

void
measure_rows_free(struct measure_row *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].step);
		free(v[i].variant);
		free(v[i].metric);
	}
	free(v);
}

/* Appends the rows of Q (step, variant, metric, n) to *ROWS. */
static enum store_status
store_sqlite_measure_rows(struct store_sqlite *s, sqlite3_stmt *q, int cols,
			  struct measure_row **rows, size_t *n, size_t *cap)
{
	int r;
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 32;
			*rows = xrealloc(*rows, *cap * sizeof(**rows));
		}
		struct measure_row *m = &(*rows)[(*n)++];
		m->step = xstrdup((const char *)sqlite3_column_text(q, 0) ?: "");
		m->variant = xstrdup((const char *)sqlite3_column_text(q, 1) ?: "");
		m->metric = xstrdup((const char *)sqlite3_column_text(q, 2) ?: "");
		m->n = sqlite3_column_double(q, cols - 1);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return r == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, r);
}

enum store_status
store_sqlite_measure_read(struct store *st, const char *campaign, struct measure_row **rows,
			  size_t *n)
{
	struct store_sqlite *s = SQ(st);
	size_t cap = 0;
	enum store_status rc;

	*rows = NULL;
	*n = 0;
	sqlite3_bind_text(s->lk[L_READ], 1, campaign, -1, SQLITE_STATIC);
	rc = store_sqlite_measure_rows(s, s->lk[L_READ], 4, rows, n, &cap);
	if (rc == STORE_OK && strcmp(campaign, "*") != 0) {
		sqlite3_bind_text(s->lk[L_INBOUND], 1, campaign, -1, SQLITE_STATIC);
		rc = store_sqlite_measure_rows(s, s->lk[L_INBOUND], 4, rows, n, &cap);
	}
	return rc;
}

enum store_status
store_sqlite_open_record(struct store *st, const char *message_id)
{
	struct store_sqlite *s = SQ(st);
	struct outbox_ref ref;
	enum store_status rc = store_sqlite_outbox_ref(st, 0, message_id, &ref);
	char *arm = NULL;

	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *q = s->lk[L_ARM_OF_OUTBOX];
	sqlite3_bind_int64(q, 1, ref.id);
	if (sqlite3_step(q) == SQLITE_ROW)
		arm = xstrdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	rc = store_sqlite_measure_count(st, ref.campaign_id ? ref.campaign_id : "",
					ref.step_id ? ref.step_id : "", arm ? arm : "", "opens", 1);
	free(arm);
	outbox_ref_clear(&ref);
	return rc;
}

/* The SQLite backend's table of click tracking, attribution and experiments (store_measure.h). */
const struct store_measure_ops store_sqlite_measure_ops = {
    .links_add = store_sqlite_links_add,
    .link_target = store_sqlite_link_target,
    .link_click = store_sqlite_link_click,
    .conversion_credit = store_sqlite_conversion_credit,
    .measure_count = store_sqlite_measure_count,
    .open_record = store_sqlite_open_record,
    .unsubscribe_credit = store_sqlite_unsubscribe_credit,
    .measure_read = store_sqlite_measure_read,
    .assignment_add = store_sqlite_assignment_add,
    .assignment_get = store_sqlite_assignment_get,
    .experiment_convert = store_sqlite_experiment_convert,
};
