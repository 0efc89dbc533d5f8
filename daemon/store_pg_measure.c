/*
 * The PostgreSQL backend's operations of store_measure.h, mirroring store_sqlite_measure.c:
 * link targets and clicks, conversions credited to a message, experiment arms, and the
 * counters statistics read. Counters several ops add at once go in one multi-row statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_measure.h"
#include "store_outbox.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

/*
 * Issue 21: counters are added as delta rows (no key: no row lock that several nodes' steps
 * would wait on, nor deadlock over), read with their counter rows (measure_counts_all) and
 * folded by one node (store_pg_stats.c's counters_fold).
 */
#define MEASURE_ADD "INSERT INTO measure_counts_deltas (campaign_id, step_id, variant, metric, n)"

static const struct pg_stmt ms_links_add = {
    "ms_links_add", "INSERT INTO links (outbox_id, idx, url, name) SELECT $1::bigint, i, u, n"
		    " FROM unnest($2::int[], $3::text[], $4::text[]) AS t (i, u, n)"};

static const struct pg_stmt ms_target = {
    "ms_target", "SELECT l.url FROM outbox o JOIN links l ON"
		 " l.outbox_id = o.id WHERE o.message_id = $1 AND l.idx = $2"};

static const struct pg_stmt ms_first = {"ms_first",
					"UPDATE links SET first_ms = $3 WHERE outbox_id = $1"
					" AND idx = $2 AND first_ms IS NULL"};

/*
 * The click counted, with the link, how many of the message's links have been clicked (the
 * first click above is visible: it was its own statement), the arm of the message's journey
 * and how many of the journey's links were clicked.
 */
static const struct pg_stmt ms_click = {
    "ms_click",
    "WITH k AS (UPDATE links SET clicks = clicks + 1, last_ms = $3 WHERE outbox_id = $1"
    " AND idx = $2 RETURNING url, name)"
    " SELECT k.url, k.name, (SELECT count(*) FROM links m WHERE m.outbox_id = $1"
    " AND m.first_ms IS NOT NULL), coalesce((SELECT arm FROM assignments a"
    " WHERE a.journey_id = o.journey_id), ''), (SELECT count(*) FROM outbox x JOIN links l"
    " ON l.outbox_id = x.id WHERE x.journey_id = o.journey_id AND l.first_ms IS NOT NULL)"
    " FROM k LEFT JOIN outbox o ON o.id = $1"};

static const struct pg_stmt ms_counts = {
    "ms_counts", MEASURE_ADD " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
			     " $5::float8[])"};

/*
 * Attribution (the customer's messages of the campaign go by outbox_customer): the last one
 * clicked since $8, else the last sent since then; recorded with what the event's earlier
 * conversions credited (this statement's insert is not in its own snapshot).
 */
static const struct pg_stmt ms_credit = {
    "ms_credit",
    "WITH m AS ((SELECT o.id, o.step_id, 'click' AS via FROM outbox o JOIN links l"
    " ON l.outbox_id = o.id WHERE o.customer_id = $3 AND o.campaign_id = $1"
    " AND l.last_ms >= $8 ORDER BY l.last_ms DESC, o.id DESC LIMIT 1)"
    " UNION ALL (SELECT id, step_id, 'send' FROM outbox WHERE customer_id = $3"
    " AND campaign_id = $1 AND created_ms >= $8 AND state <> 'skipped'"
    " ORDER BY created_ms DESC, id DESC LIMIT 1) LIMIT 1),"
    " seen AS (SELECT count(*) AS n, coalesce(max(revenue), 0) AS most FROM conversions"
    " WHERE event_seq = $4),"
    " ins AS (INSERT INTO conversions (campaign_id, journey_id, customer_id, event_seq,"
    " outbox_id, step_id, variant, via, revenue, at_ms) SELECT $1::text, $2::bigint,"
    " $3::bigint, $4::bigint, m.id, m.step_id, $5::text, coalesce(m.via, 'none'), $6::float8,"
    " $7::bigint FROM (SELECT 1) AS one LEFT JOIN m ON true)"
    " SELECT m.id, m.step_id, m.via, seen.n, seen.most FROM seen LEFT JOIN m ON true"};

static const struct pg_stmt ms_assign_add = {
    "ms_assign_add",
    "INSERT INTO assignments (journey_id, campaign_id, exp_version, customer_id, arm,"
    " variants, assigned_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (journey_id) DO NOTHING"};

static const struct pg_stmt ms_assign_get = {
    "ms_assign_get", "SELECT campaign_id, exp_version, customer_id, arm, variants, assigned_ms"
		     " FROM assignments WHERE journey_id = $1"};

/* The arm converts, and counts the conversion and its revenue, in one statement. */
static const struct pg_stmt ms_convert = {
    "ms_convert",
    "WITH a AS (UPDATE assignments SET converted_ms = $4 WHERE journey_id = (SELECT"
    " journey_id FROM assignments WHERE customer_id = $1 AND campaign_id = $2"
    " AND assigned_ms >= $3 AND converted_ms IS NULL ORDER BY assigned_ms DESC LIMIT 1)"
    " RETURNING arm),"
    " c AS (" MEASURE_ADD
    " SELECT $2::text, '*', a.arm, v.metric, v.n FROM a, (VALUES ('converted', 1::float8),"
    " ('revenue', $5::float8)) AS v (metric, n))"
    " SELECT arm FROM a"};

/* The customer's last marketing mail (outbox_marketing) counts the unsubscribe. */
static const struct pg_stmt ms_unsub = {
    "ms_unsub",
    "WITH m AS (SELECT o.campaign_id, o.step_id, coalesce((SELECT arm FROM assignments a"
    " WHERE a.journey_id = o.journey_id), '') AS arm FROM outbox o WHERE o.customer_id = $1"
    " AND o.marketing = 1 AND o.state <> 'skipped' AND o.journey_id <> 0"
    " ORDER BY o.created_ms DESC LIMIT 1),"
    " c AS (" MEASURE_ADD " SELECT campaign_id, step_id, arm, 'unsubscribes', 1 FROM m UNION ALL"
    " SELECT campaign_id, '*', arm, 'unsubscribes', 1 FROM m WHERE arm <> '')"
    " SELECT count(*) FROM m"};

/* An open counts on the message's step and arm; no row: no such message. */
static const struct pg_stmt ms_open = {
    "ms_open",
    "WITH o AS (SELECT id, campaign_id, step_id, journey_id FROM outbox WHERE message_id = $1),"
    " c AS (" MEASURE_ADD
    " SELECT o.campaign_id, o.step_id, coalesce((SELECT arm FROM assignments a"
    " WHERE a.journey_id = o.journey_id), ''), 'opens', 1 FROM o)"
    " SELECT count(*) FROM o"};

/* The counters, then (for one campaign) the inbound mail matched to its messages. */
static const struct pg_stmt ms_read = {
    "ms_read", "SELECT step_id, variant, metric, n FROM measure_counts_all WHERE campaign_id = $1"
	       " UNION ALL SELECT * FROM (SELECT o.step_id, coalesce((SELECT arm FROM assignments a"
	       " WHERE a.journey_id = o.journey_id), ''), i.kind, count(*)::float8 FROM inbound i"
	       " JOIN outbox o ON o.id = i.outbox_id WHERE i.outbox_id IS NOT NULL"
	       " AND o.campaign_id = $1 AND $1 <> '*' GROUP BY 1, 2, 3) AS ib"};

/* Counter increments gathered to be written in one statement (ms_counts). */
struct pg_counts {
	struct pgr_array col[5]; /* campaign, step, variant, metric, n */
};

static void
pg_counts_init(struct pg_counts *c)
{
	for (int i = 0; i < 5; i++)
		pgr_array_init(&c->col[i]);
}

static void
pg_counts_add(struct pg_counts *c, const char *campaign, const char *step, const char *variant,
	      const char *metric, double n)
{
	char num[32];
	snprintf(num, sizeof(num), "%.17g", n);
	pgr_array_text(&c->col[0], campaign ? campaign : "");
	pgr_array_text(&c->col[1], step ? step : "");
	pgr_array_text(&c->col[2], variant ? variant : "");
	pgr_array_text(&c->col[3], metric ? metric : "");
	pgr_array_text(&c->col[4], num);
}

/* Writes the increments (none: nothing to do) and frees them. */
static enum store_status
pg_counts_write(struct store *st, struct pg_counts *c)
{
	enum store_status rc = STORE_OK;
	struct pg_args a = {0};
	for (int i = 0; i < 5; i++) {
		pgr_array_end(&c->col[i]);
		pg_arg_text(&a, c->col[i].s->str);
	}
	if (c->col[0].n > 0)
		rc = pg_send(PQS(st), &ms_counts, &a);
	for (int i = 0; i < 5; i++)
		pgr_array_free(&c->col[i]);
	return rc;
}

/* The targets go in one statement: arrays of index, url and name. */
static enum store_status
pg_links_add(struct store *st, int64_t id, json_t *links)
{
	struct pgr_array idx, url, name;
	struct pg_args a = {0};
	enum store_status rc = STORE_OK;
	size_t i;
	json_t *l;

	if (json_array_size(links) == 0)
		return STORE_OK;
	pgr_array_init(&idx);
	pgr_array_init(&url);
	pgr_array_init(&name);
	json_array_foreach(links, i, l)
	{
		pgr_array_int(&idx, (int64_t)i);
		pgr_array_text(&url, json_string_value(json_object_get(l, "url")));
		pgr_array_text(&name, json_string_value(json_object_get(l, "name")) ?: "");
	}
	pgr_array_end(&idx);
	pgr_array_end(&url);
	pgr_array_end(&name);
	pg_arg_int(&a, id);
	pg_arg_text(&a, idx.s->str);
	pg_arg_text(&a, url.s->str);
	pg_arg_text(&a, name.s->str);
	rc = pg_send(PQS(st), &ms_links_add, &a);
	pgr_array_free(&idx);
	pgr_array_free(&url);
	pgr_array_free(&name);
	return rc;
}

static enum store_status
pg_link_target(struct store *st, const char *message_id, int idx, char **url)
{
	struct pg_args a = {0};
	PGresult *r;

	*url = NULL;
	pg_arg_text(&a, message_id);
	pg_arg_int(&a, idx);
	enum store_status rc = pg_run(PQS(st), &ms_target, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) > 0)
		*url = pg_dup(r, 0, 0);
	else
		rc = STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

/* Adds N to a counter of the campaign's step (issue 19's statistics). */
static enum store_status
pg_measure_count(struct store *st, const char *campaign, const char *step, const char *variant,
		 const char *metric, double n)
{
	char num[32];
	snprintf(num, sizeof(num), "%.17g", n);
	const char *v[] = {campaign, step, variant, metric, num};
	return pg_defer_add(PQS(st), PG_DEFER_COUNTS, v);
}

static enum store_status
pg_link_click(struct store *st, const char *message_id, int idx, int64_t now_ms,
	      struct link_click *out)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_pg_outbox_ops.outbox_ref(st, 0, message_id, &out->ref)) != STORE_OK)
		return rc;
	pg_arg_int(&a, out->ref.id);
	pg_arg_int(&a, idx);
	pg_arg_int(&a, now_ms);
	if ((rc = pg_run(PQS(st), &ms_first, &a, &r)) != STORE_OK)
		return rc;
	out->first = pg_affected(r) > 0;
	PQclear(r);
	if ((rc = pg_run(PQS(st), &ms_click, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	out->url = pg_dup(r, 0, 0);
	out->name = pg_dup(r, 0, 1);
	long clicked = (long)pg_int(r, 0, 2);
	char *arm = pg_dup(r, 0, 3);
	long journey_clicked = (long)pg_int(r, 0, 4);
	PQclear(r);

	const char *camp = out->ref.campaign_id ?: "", *stp = out->ref.step_id ?: "";
	const char *v = arm ? arm : "";
	char *metric = xasprintf("link:%s", out->url);
	struct pg_counts c;
	pg_counts_init(&c);
	pg_counts_add(&c, camp, stp, v, "clicks", 1);
	pg_counts_add(&c, camp, stp, v, metric, 1);
	/* The message's first click: it counts once toward "clicked" (unique messages). */
	if (out->first && clicked == 1)
		pg_counts_add(&c, camp, stp, v, "clicked", 1);
	/* The journey's first click: its customer counts once toward the arm's "clickers". */
	if (out->first && journey_clicked == 1)
		pg_counts_add(&c, camp, "*", v, "clickers", 1);
	rc = pg_counts_write(st, &c);
	free(arm);
	free(metric);
	return rc;
}

static enum store_status
pg_conversion_credit(struct store *st, struct conversion *c)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	c->outbox_id = 0;
	c->step_id[0] = '\0';
	c->via = "none";
	pg_arg_text(&a, c->campaign_id);
	pg_arg_int(&a, c->journey_id);
	pg_arg_int(&a, c->customer_id);
	pg_arg_int(&a, c->event_seq);
	pg_arg_text(&a, c->variant ? c->variant : "");
	pg_arg_double(&a, c->revenue);
	pg_arg_int(&a, c->at_ms);
	pg_arg_int(&a, c->since_ms);
	if ((rc = pg_run(PQS(st), &ms_credit, &a, &r)) != STORE_OK)
		return rc;
	if (!pg_isnull(r, 0, 0)) {
		c->outbox_id = pg_int(r, 0, 0);
		snprintf(c->step_id, sizeof(c->step_id), "%s", pg_str(r, 0, 1) ?: "");
		c->via = strcmp(pg_str(r, 0, 2), "click") == 0 ? "click" : "send";
	}
	long seen = (long)pg_int(r, 0, 3);
	double most = pg_double(r, 0, 4);
	PQclear(r);
	/*
	 * Counted on the step credited ("" when no message was found), and once per event across
	 * campaigns under the campaign "*": the de-duplicated total, whose revenue for an event
	 * is the largest any campaign credited it with (campaigns may name different values).
	 */
	const char *v = c->variant ? c->variant : "";
	struct pg_counts k;
	pg_counts_init(&k);
	pg_counts_add(&k, c->campaign_id, c->step_id, v, "converted", 1);
	pg_counts_add(&k, c->campaign_id, c->step_id, v, "revenue", c->revenue);
	if (seen == 0)
		pg_counts_add(&k, "*", "", "", "converted", 1);
	if (c->revenue > most || (seen == 0 && c->revenue != 0))
		pg_counts_add(&k, "*", "", "", "revenue",
			      seen == 0 ? c->revenue : c->revenue - most);
	return pg_counts_write(st, &k);
}

static enum store_status
pg_assignment_add(struct store *st, const struct assignment *as)
{
	struct pg_args a = {0};
	char *v = json_dumps(as->variants, JSON_COMPACT | JSON_SORT_KEYS);

	pg_arg_int(&a, as->journey_id);
	pg_arg_text(&a, as->campaign_id);
	pg_arg_text(&a, as->exp_version);
	pg_arg_int(&a, as->customer_id);
	pg_arg_text(&a, as->arm);
	pg_arg_text(&a, v ? v : "{}");
	pg_arg_int(&a, as->assigned_ms);
	enum store_status rc = pg_send(PQS(st), &ms_assign_add, &a);
	free(v);
	return rc;
}

static enum store_status
pg_assignment_get(struct store *st, int64_t journey_id, struct assignment *out)
{
	struct pg_args a = {0};
	PGresult *r;

	memset(out, 0, sizeof(*out));
	pg_arg_int(&a, journey_id);
	enum store_status rc = pg_run(PQS(st), &ms_assign_get, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	out->journey_id = journey_id;
	out->campaign_id = pg_dup(r, 0, 0);
	out->exp_version = pg_dup(r, 0, 1);
	out->customer_id = pg_int(r, 0, 2);
	out->arm = pg_dup(r, 0, 3);
	out->variants = json_loads(pg_str(r, 0, 4) ?: "{}", 0, NULL);
	out->assigned_ms = pg_int(r, 0, 5);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_experiment_convert(struct store *st, const char *campaign, int64_t customer_id, int64_t since_ms,
		      int64_t now_ms, double revenue, char **arm)
{
	struct pg_args a = {0};
	PGresult *r;

	*arm = NULL;
	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, campaign);
	pg_arg_int(&a, since_ms);
	pg_arg_int(&a, now_ms);
	pg_arg_double(&a, revenue);
	enum store_status rc = pg_run(PQS(st), &ms_convert, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) > 0)
		*arm = pg_dup(r, 0, 0);
	else
		rc = STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

static enum store_status
pg_unsubscribe_credit(struct store *st, int64_t customer_id)
{
	struct pg_args a = {0};
	pg_arg_int(&a, customer_id);
	return pg_send(PQS(st), &ms_unsub, &a);
}

static enum store_status
pg_measure_read(struct store *st, const char *campaign, struct measure_row **rows, size_t *n)
{
	struct pg_args a = {0};
	PGresult *r;

	*rows = NULL;
	*n = 0;
	pg_arg_text(&a, campaign);
	enum store_status rc = pg_run(PQS(st), &ms_read, &a, &r);
	if (rc != STORE_OK)
		return rc;
	int cnt = PQntuples(r);
	if (cnt > 0)
		*rows = xcalloc((size_t)cnt, sizeof(**rows));
	for (int i = 0; i < cnt; i++) {
		struct measure_row *m = &(*rows)[i];
		m->step = xstrdup(pg_str(r, i, 0) ?: "");
		m->variant = xstrdup(pg_str(r, i, 1) ?: "");
		m->metric = xstrdup(pg_str(r, i, 2) ?: "");
		m->n = pg_double(r, i, 3);
	}
	*n = (size_t)cnt;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_open_record(struct store *st, const char *message_id)
{
	struct pg_args a = {0};
	PGresult *r;

	pg_arg_text(&a, message_id);
	enum store_status rc = pg_run(PQS(st), &ms_open, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (pg_int(r, 0, 0) == 0)
		rc = STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

/* The PostgreSQL backend's table of click tracking, attribution and experiments. */
const struct store_measure_ops store_pg_measure_ops = {
    .links_add = pg_links_add,
    .link_target = pg_link_target,
    .link_click = pg_link_click,
    .conversion_credit = pg_conversion_credit,
    .measure_count = pg_measure_count,
    .open_record = pg_open_record,
    .unsubscribe_credit = pg_unsubscribe_credit,
    .measure_read = pg_measure_read,
    .assignment_add = pg_assignment_add,
    .assignment_get = pg_assignment_get,
    .experiment_convert = pg_experiment_convert,
};
