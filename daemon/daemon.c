#include "daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "campaign.h"
#include "filemodes.h"
#include "clock.h"
#include "compose.h"
#include "cluster.h"
#include "config.h"
#include "crypto.h"
#include "deliver.h"
#include "diag.h"
#include "engine.h"
#include "http.h"
#include "imap_poll.h"
#include "httpclient.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "mimepool.h"
#include "notify.h"
#include "plugin.h"
#include "pool.h"
#include "retention.h"
#include "privdrop.h"
#include "template.h"
#include "storeloop.h"
#include "util.h"

struct daemon {
	struct config *cfg;
	struct event_base *base;
	struct storeloop *storeloop;
	struct storeloop *readloop;   /* statistics: their scans never hold up the store thread */
	struct storeloop *sendloop;   /* PostgreSQL: delivery's claims and outcomes, or NULL */
	struct storeloop *ingestloop; /* PostgreSQL: requests that store events, or NULL */
	struct deliver *deliver;
	struct http *http;
	struct imap_poll *imap;		/* issue 16: the mailbox poller, or NULL */
	struct campaign_set *campaigns; /* the set the engine runs; swapped on reload */
	struct template_set *templates; /* the set cx points to; swapped with the campaigns */
	struct compose_ctx cx;
	char *msgid_domain;
	struct engine *engine;
	struct mimepool *mimepool;   /* the send steps' MIME builds, beside the store thread */
	struct retention *retention; /* the pruner (config "retention") */
	struct clock clock;
	struct event *sig[3];
	struct event *stop_timer;
	struct nt_pool *reload_pool;  /* one thread: SIGHUP reads the files there */
	struct reload_job *reloading; /* in flight on it, or NULL */
	int reload_again;	      /* a SIGHUP came during that reload */
	char *secret;
	int64_t stop_deadline_us;
	int stopping;
	int64_t started_ms;	 /* wall clock, for /v1/status's uptime */
	char **restart_needed;	 /* keys the file changed that only a restart applies; NULL-ended */
	struct cluster *cluster; /* issue 21: the lease loop on PostgreSQL, or NULL */
};

struct cluster *
daemon_cluster(struct daemon *d)
{
	return d->cluster;
}

const struct config *
daemon_config(struct daemon *d)
{
	return d->cfg;
}

struct event_base *
daemon_base(struct daemon *d)
{
	return d->base;
}

struct storeloop *
daemon_storeloop(struct daemon *d)
{
	return d->storeloop;
}

struct storeloop *
daemon_ingestloop(struct daemon *d)
{
	return d->ingestloop ? d->ingestloop : d->storeloop;
}

struct storeloop *
daemon_readloop(struct daemon *d)
{
	return d->readloop ? d->readloop : d->storeloop;
}

/* A store connection of its own for WHAT, or NULL (logged): WHAT then runs on the store thread. */
static struct store *
daemon_store_extra(const struct store_options *so, const char *what)
{
	char err[512];
	struct store *s = store_open(so, err, sizeof(err));
	if (s == NULL)
		log_warnx(
		    "store: no connection of its own for %s (%s); it runs on the store thread",
		    what, err);
	return s;
}

/*
 * The reader: its own read-only connection and thread. WAL lets it read the last commit
 * while the writer goes on; a statistics query that scans a million journeys (a quarter of a
 * second) then delays no event and no step. Without it, statistics run on the store loop.
 */
static void
daemon_start_reader(struct daemon *d, const struct store_options *so)
{
	struct store_options ro = *so;

	ro.read_only = 1;
	if (so->data_dir == NULL && so->url == NULL)
		return;
	struct store *reader = daemon_store_extra(&ro, "statistics");
	if (reader != NULL)
		d->readloop = storeloop_start_reader(reader, d->base);
}

/*
 * Issue 21: on PostgreSQL delivery's claims and outcomes go through a connection and thread of
 * their own, as another node's would (FOR UPDATE SKIP LOCKED; delivery is not fenced), so the
 * server runs them in a second backend beside the engine's writes instead of one backend doing
 * both (a due step's claim and outcome were 28 % of that backend's statement time, bench/
 * scheduler 10000). SQLite has one writer: there delivery stays on the store thread.
 */
static void
daemon_start_sendloop(struct daemon *d, const struct store_options *so)
{
	struct store *s = daemon_store_extra(so, "delivery");
	if (s != NULL)
		d->sendloop = storeloop_start(s, NULL, d->base);
}

/*
 * Issue 21: the same for the requests that store events (POST /v1/events): their inserts run
 * in a backend of their own, and each commit wakes the store thread's engine, which consumes
 * them in its own transaction while the next ones are stored (storeloop_start_ingest). One
 * backend doing both ran at 78 % of a core while the other core was 45 % idle (bench/ingest,
 * single events).
 */
static void
daemon_start_ingestloop(struct daemon *d, const struct store_options *so)
{
	struct store *s = daemon_store_extra(so, "events");
	if (s != NULL)
		d->ingestloop = storeloop_start_ingest(s, d->base, d->storeloop);
}

struct http *
daemon_http(struct daemon *d)
{
	return d->http;
}

const char *
daemon_secret(struct daemon *d)
{
	return d->secret;
}

int
daemon_stopping(struct daemon *d)
{
	return d->stopping;
}

int64_t
daemon_started_ms(struct daemon *d)
{
	return d->started_ms;
}

struct deliver *
daemon_deliver(struct daemon *d)
{
	return d->deliver;
}

/* The running set: swapped on the network loop (daemon_campaigns_done), so read it there. */
const struct campaign_set *
daemon_campaigns(struct daemon *d)
{
	return d->campaigns;
}

const struct compose_ctx *
daemon_compose(struct daemon *d)
{
	return &d->cx;
}

struct engine *
daemon_engine(struct daemon *d)
{
	return d->engine;
}

const char *
daemon_system_channel(struct daemon *d)
{
	return d->cfg->system_channel ? d->cfg->system_channel : "mail";
}

/* Store thread: the channels as the configuration the store thread runs on has them. */
static int
daemon_channel_payload(const char *channel, void *arg)
{
	struct daemon *d = arg;
	return plugin_channel_payload(d->cx.cfg, channel);
}

const char *const *
daemon_restart_needed(struct daemon *d)
{
	static const char *const none[] = {NULL};
	return d->restart_needed != NULL ? (const char *const *)d->restart_needed : none;
}

/* Mail needs a template; a webhook's JSON document carries the data without one. */
static int
daemon_needs_template(const char *channel, void *cfg)
{
	return plugin_channel_payload(cfg, channel) == NT_PAYLOAD_MIME;
}

struct template_set *
daemon_load_templates(const struct config *c, const struct campaign_set *set, struct diag *d)
{
	const char *file = d->file;
	struct template_set *t = NULL;
	int needed = 0;

	for (size_t i = 0; set != NULL && i < set->n; i++)
		for (size_t k = 0; k < set->v[i]->n_steps; k++)
			if (set->v[i]->steps[k].kind == STEP_SEND &&
			    daemon_needs_template(set->v[i]->steps[k].channel, (void *)c))
				needed = 1;
	if (!g_file_test(c->templates_dir, G_FILE_TEST_IS_DIR)) {
		if (needed)
			diag_add(d, NULL,
				 "templates_dir '%s' is not a directory, and campaigns send mail",
				 c->templates_dir);
		return NULL;
	}
	d->file = c->templates_dir;
	t = template_set_load(c->templates_dir, d);
	d->file = file;
	for (size_t i = 0; t != NULL && set != NULL && i < set->n; i++)
		template_set_check_campaign(t, set->v[i], daemon_needs_template, (void *)c, d);
	return t;
}

void
daemon_wake_delivery(struct daemon *d)
{
	if (d != NULL && d->deliver != NULL)
		deliver_wake(d->deliver);
}

/*
 * The HMAC key for signed links and erased-address hashes: from the config, or generated once
 * and kept in data_dir so that links stay valid across restarts. Runs before the loop starts.
 */
static char *
daemon_load_secret(const struct config *c)
{
	char *path, buf[129];
	unsigned char raw[32];
	int fd;
	ssize_t n;

	if (c->secret != NULL)
		return xstrdup(c->secret);
	path = xasprintf("%s/secret", c->data_dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n >= 32) {
			buf[n] = '\0';
			buf[strcspn(buf, "\r\n")] = '\0';
			free(path);
			return xstrdup(buf);
		}
		fatalx("%s: too short; remove it to generate a new secret", path);
	}
	if (crypto_random(raw, sizeof(raw)) < 0)
		fatalx("no randomness for the secret");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, buf, 64) != 64 || fsync(fd) < 0)
		fatal("cannot write %s", path);
	close(fd);
	log_info("generated a new secret in %s", path);
	free(path);
	return xstrdup(buf);
}

/*
 * Loads the campaigns of campaigns_dir (none when the directory does not exist); NULL, with
 * every problem in D, when any campaign is wrong.
 */
struct campaign_set *
daemon_load_campaigns(const struct config *c, struct diag *d)
{
	struct campaign_ctx ctx = {.channels = c->channels};
	const char *file = d->file;
	struct campaign_set *set;

	if (!g_file_test(c->campaigns_dir, G_FILE_TEST_IS_DIR))
		return xcalloc(1, sizeof(struct campaign_set));
	d->file = c->campaigns_dir;
	set = campaign_load_dir(c->campaigns_dir, &ctx, d);
	d->file = file;
	return set;
}

/*
 * The right-hand side of our Message-IDs: the domain of mail_from, the domain the mail claims
 * to come from (the host of public_url may be an address or an internal name).
 */
static char *
daemon_msgid_domain(const struct config *c)
{
	const char *at = strrchr(c->mail_from_address, '@');
	return xstrdup(at != NULL && at[1] ? at + 1 : "localhost.localdomain");
}

/*
 * The store thread's half of a reload: the campaigns, templates and configuration that the
 * engine and compose read there. The network loop switched its own view already; the store
 * thread's old configuration is freed once it has switched too.
 */
struct campaigns_job {
	struct store_job job; /* first */
	struct daemon *d;
	struct campaign_set *set;	/* the new set, then the one to free */
	struct template_set *templates; /* likewise */
	struct config *cfg;		/* the new configuration, then the one to free */
	char *msgid_domain;		/* likewise */
	int swapped; /* set by the store thread when the engine took the new set */
};

/* Store thread: the engine switches between two passes, never inside one. */
static enum store_status
daemon_campaigns_run(struct store *s, struct store_job *job)
{
	struct campaigns_job *j = (struct campaigns_job *)job;
	struct daemon *d = j->d;
	struct config *old_cfg = (struct config *)d->cx.cfg;
	char *old_domain = d->msgid_domain; /* the store thread's since the start */
	(void)s;
	engine_set_campaigns(d->engine, j->set);
	d->cx.tpl = j->templates;
	d->cx.cfg = j->cfg;
	d->msgid_domain = j->msgid_domain;
	d->cx.msgid_domain = d->msgid_domain;
	engine_set_msgid_domain(d->engine, j->msgid_domain);
	engine_set_cap(d->engine, j->cfg->cap_max, j->cfg->cap_per_ms);
	engine_set_stages(d->engine, &j->cfg->stages);
	j->cfg = old_cfg;
	j->msgid_domain = old_domain;
	j->swapped = 1;
	return engine_register(d->engine);
}

static void daemon_campaigns_submit(evutil_socket_t fd, short what, void *arg);

/*
 * Network loop: once the store thread has swapped, it sees only the new set, and the old one
 * is freed. A group that failed before the swap (the store unavailable) is tried again in a
 * second: the network loop runs the new configuration already. A swap whose versions could
 * not be recorded still stands (journeys then run on the current version).
 */
static void
daemon_campaigns_done(struct store_job *job)
{
	struct campaigns_job *j = (struct campaigns_job *)job;
	if (!j->swapped) {
		struct timeval second = {1, 0};
		log_warnx("reload: store unavailable; applying the campaigns again in a second");
		job->status = STORE_OK;
		event_base_once(j->d->base, -1, EV_TIMEOUT, daemon_campaigns_submit, j, &second);
		return;
	}
	struct campaign_set *old = j->d->campaigns;
	struct template_set *old_t = j->d->templates;
	j->d->campaigns = j->set;
	j->d->templates = j->templates;
	campaign_set_free(old);
	template_set_free(old_t);
	if (job->status == STORE_OK)
		log_info("reload: %zu campaigns", j->set->n);
	else
		log_warnx("reload: %zu campaigns, but their versions were not recorded "
			  "(store unavailable)",
			  j->set->n);
	config_free(j->cfg);
	free(j->msgid_domain);
	free(j);
}

static void
daemon_campaigns_submit(evutil_socket_t fd, short what, void *arg)
{
	struct campaigns_job *j = arg;
	(void)fd;
	(void)what;
	storeloop_submit(j->d->storeloop, &j->job);
}

static double
daemon_gauge_store_queue(void *arg)
{
	return (double)storeloop_depth(arg);
}

static double
daemon_gauge_inflight(void *arg)
{
	return (double)http_inflight(arg);
}

static void
daemon_warn(const char *msg)
{
	log_warnx("%s", msg);
}

static double
daemon_gauge_connections(void *arg)
{
	return (double)http_connections(arg);
}

/* SQLite's own heap (page cache included): RSS less this is what a leak would grow. */
static double
daemon_gauge_sqlite_memory(void *arg)
{
	(void)arg;
	return (double)store_memory_used();
}

/*
 * Finishes the stop once every request in flight has its answer written to its socket (an
 * answer still in a connection's output buffer would be lost when evhttp_free closes it), or
 * the deadline passed.
 */
static void
daemon_stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tick = {0, 20000};
	(void)fd;
	(void)what;

	/* A reload still reading its files is given the deadline too (then ended by _exit). */
	if ((http_inflight(d->http) == 0 && http_unflushed(d->http) == 0 &&
	     deliver_idle(d->deliver) && d->reloading == NULL) ||
	    util_mono_us() >= d->stop_deadline_us) {
		if (http_inflight(d->http) > 0)
			log_warnx("stop: %d requests unanswered at the deadline (none was "
				  "acknowledged)",
				  http_inflight(d->http));
		if (!deliver_idle(d->deliver))
			log_warnx("stop: messages still in delivery at the deadline; they are "
				  "retried at the next start");
		event_base_loopexit(d->base, NULL);
		return;
	}
	evtimer_add(d->stop_timer, &tick);
}

static void
daemon_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	log_info("stopping (%s)", why);
	notify_stopping();
	d->stopping = 1;
	imap_poll_stop(d->imap);
	http_stop_accepting(d->http);
	deliver_stop(d->deliver);
	retention_stop(d->retention);
	d->stop_deadline_us = util_mono_us() + (int64_t)d->cfg->shutdown_timeout_s * 1000000;
	d->stop_timer = evtimer_new(d->base, daemon_stop_check, d);
	daemon_stop_check(-1, 0, d);
}

/*
 * A reload in two halves: the files are read and checked on the reload thread (a config,
 * campaigns or templates on a slow or hung file system must not stop the loop from answering),
 * then applied on the loop. One reload at a time; a SIGHUP during one runs another after it,
 * so the last signal always sees the files as they are at its end.
 */
struct reload_job {
	struct daemon *d;
	struct diag dg;
	struct config *n;	  /* the file as read now; NULL when it has errors */
	struct campaign_set *set; /* from the running campaigns_dir; NULL on errors */
	struct template_set *tpl; /* likewise */
	size_t config_errors;	  /* the first of dg's messages that are not the config's */
	const char **applied;	  /* the keys this reload changes (config_reload_merge) */
	const char **restart;	  /* the keys the file changed that wait for a restart */
};

static void daemon_reload(struct daemon *d);

static void
daemon_reload_job_free(struct reload_job *j)
{
	if (j == NULL)
		return;
	config_free(j->n);
	campaign_set_free(j->set);
	template_set_free(j->tpl);
	diag_free(&j->dg);
	free(j->applied);
	free(j->restart);
	free(j);
}

/*
 * Reload thread. It reads the running configuration, which only daemon_reload_apply replaces,
 * on the loop, after this returned: the keys that need a restart take their running values
 * back, then the campaigns and templates are loaded as the new configuration has them.
 */
static void
daemon_reload_read(void *arg)
{
	struct reload_job *j = arg;
	const struct config *o = j->d->cfg;

	j->n = config_load(o->file, &j->dg);
	j->config_errors = j->dg.n;
	if (j->n == NULL)
		return;
	config_reload_merge(j->n, o, &j->applied, &j->restart);
	j->set = daemon_load_campaigns(j->n, &j->dg);
	if (j->set != NULL)
		j->tpl = daemon_load_templates(j->n, j->set, &j->dg);
}

/*
 * Network loop: the keys that need a restart are named (in the log and /v1/status) and keep
 * their running values; every other key applies now: here for what the network loop reads
 * (tokens, limits, log level, channels, consent pages), on the store thread for what the
 * engine and compose read there (daemon_campaigns_run). A configuration, campaign or
 * template with errors, or a channel that cannot open, changes nothing.
 */
static void
daemon_reload_apply(void *arg)
{
	struct reload_job *j = arg;
	struct daemon *d = j->d;
	struct config *n = j->n;
	char *err = NULL;

	d->reloading = NULL;
	if (n == NULL || j->set == NULL || j->dg.n > j->config_errors) {
		for (size_t i = 0; i < j->dg.n; i++)
			log_warnx("reload: %s", j->dg.msgs[i]);
		log_warnx("reload: %s has errors; keeping the running one",
			  n == NULL ? "configuration" : "campaigns or templates; configuration");
	} else if (deliver_reload(d->deliver, n, &err) < 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		free(err);
	} else {
		for (size_t i = 0; j->restart[i] != NULL; i++)
			log_warnx("reload: '%s' changed; it needs a restart (running on the old "
				  "value until then)",
				  j->restart[i]);
		for (size_t i = 0; j->applied[i] != NULL; i++)
			log_info("reload: '%s' applied", j->applied[i]);
		g_strfreev(d->restart_needed);
		d->restart_needed = g_strdupv((char **)j->restart);
		d->cfg = n; /* the old one is the store thread's until it switches */
		log_set_level(n->log_level);
		http_set_limits(d->http, n);
		struct campaigns_job *cj = xcalloc(1, sizeof(*cj));
		cj->d = d;
		deliver_set_campaigns(d->deliver, j->set);
		cj->set = j->set;
		cj->templates = j->tpl;
		cj->cfg = n;
		cj->msgid_domain = daemon_msgid_domain(n);
		cj->job.run = daemon_campaigns_run;
		cj->job.done = daemon_campaigns_done;
		cj->job.wakes_engine = 1; /* resumed campaigns may have journeys to run */
		storeloop_submit(d->storeloop, &cj->job);
		j->set = NULL; /* the campaigns job owns them now */
		j->tpl = NULL;
		j->n = NULL;
		log_info("reloaded %s", n->file ? n->file : "(defaults)");
	}
	daemon_reload_job_free(j);
	notify_ready();
	if (d->reload_again && !d->stopping) {
		d->reload_again = 0;
		daemon_reload(d);
	}
}

/* SIGHUP. */
static void
daemon_reload(struct daemon *d)
{
	struct reload_job *j;

	if (d->reloading != NULL) {
		d->reload_again = 1;
		return;
	}
	notify_reloading();
	j = xcalloc(1, sizeof(*j));
	j->d = d;
	diag_init(&j->dg, d->cfg->file ? d->cfg->file : "(defaults)", NULL);
	if (pool_submit(d->reload_pool, daemon_reload_read, daemon_reload_apply, j) < 0) {
		daemon_reload_job_free(j);
		notify_ready();
		return;
	}
	d->reloading = j;
}

static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	(void)what;
	if (sig == SIGHUP)
		daemon_reload(d);
	else
		daemon_stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/*
 * At the end of a stop that ran into its deadline, with the store closed: threads still
 * blocked (an SMTP session stalled inside a phase, whose timeouts run to minutes; a reload
 * reading a hung file) would only be joined after it. Their messages stay "sending" and are
 * queued again at the next start, so the process ends here instead, without the teardown.
 */
static void
daemon_exit_if_overdue(struct daemon *d)
{
	if (!d->stopping || util_mono_us() < d->stop_deadline_us ||
	    (deliver_idle(d->deliver) && d->reloading == NULL))
		return;
	log_warnx("stop: %s still busy past the deadline; exiting without waiting (the store is "
		  "closed; messages in flight are retried at the next start)",
		  d->reloading != NULL ? "a reload is" : "delivery is");
	_exit(0);
}

/* MIME builders: the cores the store thread leaves, at least one, at most four. */
static int
daemon_mime_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

int
daemon_run(struct config *cfg, int foreground)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	struct store *store;
	char err[512];
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	int rc = 0;

	d->cfg = cfg;
	d->started_ms = util_now_ms();
	/* The database, its WAL, the secret, maildirs: ours alone, whatever data_dir's mode. */
	umask(077);
	mime_init();
	httpclient_global_init(); /* before any thread: curl's global setup is not thread-safe */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit becomes a write error, then a 503 */
	if (!foreground && !notify_expected() && daemon(1, 0) < 0)
		fatal("daemon");
	if (evthread_use_pthreads() < 0)
		fatalx("evthread_use_pthreads");
	log_route_libevent();
	d->base = event_base_new();
	if (d->base == NULL)
		fatalx("event_base_new");

	/*
	 * Plugins are loaded (not yet initialised) while still root, like a web server's modules:
	 * plugin_dir may be readable by root only. A plugin that fails here is named when its
	 * channel opens.
	 */
	for (size_t i = 0; i < cfg->n_chans; i++) {
		char *perr = NULL;
		plugin_load(cfg->plugin_dir, cfg->chans[i].plugin, &perr);
		free(perr);
	}
	/* Before the store opens and any thread starts: what it creates belongs to the user. */
	if (privdrop_daemon(cfg, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		rc = 1;
		goto out;
	}
	int pg = cfg->store != NULL && strcmp(cfg->store, "sqlite") != 0;
	struct store_options so = {.backend = pg ? "postgresql" : "sqlite",
				   .data_dir = cfg->data_dir,
				   .url = pg ? cfg->store : NULL,
				   .durability_full = cfg->durability_full};
	store = store_open(&so, err, sizeof(err));
	if (store == NULL) {
		log_warnx("store: %s", err);
		rc = 1;
		goto out;
	}
	/*
	 * On PostgreSQL the store does not make data_dir; the secret lives there, and a marker
	 * tells a later start (privdrop) that the directory is nurtured's, as nurtured.db does.
	 */
	if (util_mkdirs(cfg->data_dir, 0700) < 0 || (pg && privdrop_mark_dir(cfg->data_dir) < 0)) {
		log_warnx("cannot create %s: %s", cfg->data_dir, strerror(errno));
		store_close(store);
		rc = 1;
		goto out;
	}
	d->secret = daemon_load_secret(cfg);
	struct diag dg;
	diag_init(&dg, cfg->campaigns_dir, NULL);
	d->campaigns = daemon_load_campaigns(cfg, &dg);
	for (size_t i = 0; i < dg.n; i++)
		log_warnx("%s", dg.msgs[i]);
	diag_free(&dg);
	if (d->campaigns == NULL) {
		log_warnx("campaigns have errors; not starting (nurtured check shows them all)");
		store_close(store);
		rc = 1;
		goto out;
	}
	d->msgid_domain = daemon_msgid_domain(cfg);
	clock_real_init(&d->clock);
	d->engine = engine_new(store, d->campaigns, &d->clock, d->msgid_domain);
	engine_set_cap(d->engine, cfg->cap_max, cfg->cap_per_ms);
	engine_set_stages(d->engine, &cfg->stages);
	/* Before the store loop owns the store: this is the only write off that thread. */
	if (store_begin(store) != STORE_OK || engine_register(d->engine) != STORE_OK ||
	    store_commit(store) != STORE_OK) {
		log_warnx("store: cannot record the campaigns: %s", store_errmsg(store));
		store_close(store);
		rc = 1;
		goto out;
	}
	log_info("%zu campaigns loaded from %s", d->campaigns->n, cfg->campaigns_dir);
	plugin_host_init(d->base);
	char *derr = NULL;
	d->deliver = deliver_start(cfg, d->base, d->secret, &derr);
	if (d->deliver == NULL) {
		log_warnx("%s", derr);
		free(derr);
		store_close(store);
		rc = 1;
		goto out;
	}
	deliver_set_campaigns(d->deliver, d->campaigns);
	diag_init(&dg, cfg->templates_dir, NULL);
	d->templates = daemon_load_templates(cfg, d->campaigns, &dg);
	for (size_t i = 0; i < dg.n; i++)
		log_warnx("%s", dg.msgs[i]);
	if (dg.n > 0) {
		diag_free(&dg);
		log_warnx("templates have errors; not starting (nurtured check shows them all)");
		store_close(store);
		rc = 1;
		goto out;
	}
	diag_free(&dg);
	d->cx = (struct compose_ctx){.cfg = cfg,
				     .tpl = d->templates,
				     .secret = d->secret,
				     .msgid_domain = d->msgid_domain,
				     .channel_payload = daemon_channel_payload,
				     .arg = d};
	engine_set_compose(d->engine, &d->cx);
	d->mimepool = mimepool_new(daemon_mime_threads());
	engine_set_mimepool(d->engine, d->mimepool);
	if (pg) {
		/* Issue 21: the first lease round before the engine's first pass, so that its
		 * catch-up works on partitions this node holds. */
		char *listen = xasprintf("%s:%s", cfg->listen_host, cfg->listen_port);
		d->cluster = cluster_new(cfg->node_id, listen, cfg->listen_port, cfg->lease_ttl_ms);
		free(listen);
		/* The lease loop has a connection of its own: a busy store thread never lets its
		 * leases run out. */
		struct store *leases = store_open(&so, err, sizeof(err));
		if (leases == NULL) {
			log_warnx("store: %s", err);
			store_close(store);
			rc = 1;
			goto out;
		}
		cluster_start(d->cluster, leases, store);
		d->storeloop = storeloop_start_cluster(store, d->engine, d->base, deliver_wake,
						       d->deliver, d->cluster);
		metrics_add_gauge("nurtured_partitions_owned",
				  "Partitions this node holds a lease on (issue 21).",
				  cluster_gauge_owned, d->cluster);
		metrics_add_gauge("nurtured_lease_age_seconds",
				  "Seconds since this node last renewed its leases (issue 21).",
				  cluster_gauge_lease_age, d->cluster);
	} else
		d->storeloop =
		    storeloop_start_hooked(store, d->engine, d->base, deliver_wake, d->deliver);
	daemon_start_reader(d, &so);
	if (pg) {
		daemon_start_sendloop(d, &so);
		daemon_start_ingestloop(d, &so);
	}
	deliver_begin(d->deliver, d->sendloop ? d->sendloop : d->storeloop);
	d->retention = retention_start(d);
	d->http = http_start(d, cfg->listen_host, cfg->listen_port, err, sizeof(err));
	if (d->http == NULL) {
		log_warnx("http: %s", err);
		rc = 1;
		goto out;
	}
	if (cfg->n_api_tokens == 0)
		log_warnx("no api_tokens configured: the API is open to anyone on this host");
	d->imap = imap_poll_start(cfg);
	metrics_add_gauge("nurtured_store_queue_depth", "Jobs waiting for the store loop.",
			  daemon_gauge_store_queue, d->storeloop);
	metrics_add_gauge("nurtured_sqlite_memory_bytes",
			  "Memory SQLite holds (its page cache, up to 32 MiB, included).",
			  daemon_gauge_sqlite_memory, NULL);
	metrics_add_gauge("nurtured_http_inflight", "Requests waiting for their answer.",
			  daemon_gauge_inflight, d->http);
	metrics_add_gauge("nurtured_http_connections", "HTTP connections open.",
			  daemon_gauge_connections, d->http);
	d->reload_pool = pool_new(d->base, "reload", 1);
	for (size_t i = 0; i < NT_ARRAY_LEN(sigs); i++) {
		d->sig[i] = evsignal_new(d->base, sigs[i], daemon_signal, d);
		event_add(d->sig[i], NULL);
	}
	log_info("nurtured %s listening on %s:%s, data in %s (durability %s)", PACKAGE_VERSION,
		 cfg->listen_host, cfg->listen_port, cfg->data_dir,
		 cfg->durability_full ? "full" : "normal");
	filemodes_check(cfg->file, cfg->n_api_tokens > 0 || cfg->secret != NULL, cfg->data_dir,
			daemon_warn);
	notify_ready();
	event_base_dispatch(d->base);
	log_info("stopped");
out:
	imap_poll_free(d->imap); /* its last POST was answered, or failed: nothing half done */
	/* The store loop commits what it holds before the store closes. */
	storeloop_stop(d->readloop);
	storeloop_stop(d->ingestloop); /* its last wake reaches the store loop, stopped after */
	storeloop_stop(d->sendloop);
	storeloop_stop(d->storeloop);
	cluster_free(d->cluster);     /* after the store thread's last sync */
	retention_free(d->retention); /* after its last chunk's done callback */
	mimepool_free(d->mimepool);   /* after the store thread's last flush */
	daemon_exit_if_overdue(d);
	/* A reload still reading is waited for; one read but not applied is dropped. */
	if (d->reload_pool != NULL)
		pool_free(d->reload_pool);
	daemon_reload_job_free(d->reloading);
	deliver_free(d->deliver);
	plugin_host_fini();
	plugin_unload_all();
	engine_free(d->engine);
	campaign_set_free(d->campaigns);
	template_set_free(d->templates);
	free(d->msgid_domain);
	http_free(d->http);
	for (size_t i = 0; i < NT_ARRAY_LEN(sigs); i++)
		if (d->sig[i])
			event_free(d->sig[i]);
	if (d->stop_timer)
		event_free(d->stop_timer);
	metrics_reset_gauges();
	event_base_free(d->base);
	free(d->secret);
	g_strfreev(d->restart_needed);
	config_free(d->cfg);
	free(d);
	return rc;
}
