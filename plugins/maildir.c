/*
 * The maildir plugin: each message becomes one file in a Maildir (tmp/ -> fsync -> new/), the
 * channel of the demo and of dry runs. The file holds the payload as the host rendered it: the
 * MIME message, or the JSON document of a channel the config marks "payload": "json" (a dry
 * run of a webhook).
 *
 * Settings: "path" (required), "threads" (1..16, default 2): the writes and fsyncs run in the
 * host's worker pool, never on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "nurtured-plugin.h"

struct maildir {
	const struct nt_host *host;
	char *path;
	char *hostname;
	struct nt_pool *pool;
	int stopping;
};

struct maildir_job {
	struct maildir *md;
	const struct nt_message *msg;
	nt_done_fn done;
	void *token;
	int err; /* errno of the failed step, 0 on success */
	const char *step;
};

static atomic_uint maildir_counter;

/* mkdir that accepts an existing directory. */
static int
maildir_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static int
maildir_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Worker thread: the Maildir protocol, so a reader never sees a half-written message. */
static void
maildir_write(void *arg)
{
	struct maildir_job *j = arg;
	struct maildir *md = j->md;
	char tmp[4096], dst[4096], newdir[4096];
	struct timeval tv;
	size_t off = 0;
	int fd;

	gettimeofday(&tv, NULL);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%lld.M%06ldP%dQ%u_%lld.%s", md->path,
		 (long long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(),
		 atomic_fetch_add(&maildir_counter, 1), (long long)j->msg->id, md->hostname);
	snprintf(dst, sizeof(dst), "%s/new/%s", md->path, strrchr(tmp, '/') + 1);
	snprintf(newdir, sizeof(newdir), "%s/new", md->path);
	j->step = "open";
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		goto fail;
	j->step = "write";
	while (off < j->msg->data_len) {
		ssize_t n = write(fd, j->msg->data + off, j->msg->data_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			unlink(tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	j->step = "fsync";
	if (fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	j->step = "rename";
	if (rename(tmp, dst) < 0) {
		unlink(tmp);
		goto fail;
	}
	j->step = "fsync new/";
	if (maildir_fsync_dir(newdir) < 0)
		goto fail;
	j->err = 0;
	return;
fail:
	j->err = errno ? errno : EIO;
}

/* Loop thread: a full disk is worth retrying; the message waits in the outbox. */
static void
maildir_written(void *arg)
{
	struct maildir_job *j = arg;
	char reply[256];
	struct nt_outcome o = {.result = NT_SENT, .reply = "delivered to maildir"};

	if (j->err != 0) {
		snprintf(reply, sizeof(reply), "maildir %s: %s", j->step, strerror(j->err));
		o.result = NT_DEFERRED;
		o.reply = reply;
	}
	j->done(j->token, &o);
	free(j);
}

static int
maildir_deliver(void *state, const struct nt_message *msg, nt_done_fn done, void *token)
{
	struct maildir *md = state;
	struct maildir_job *j;

	if (md->stopping)
		return -1;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	*j = (struct maildir_job){.md = md, .msg = msg, .done = done, .token = token};
	if (md->host->pool_submit(md->pool, maildir_write, maildir_written, j) < 0) {
		free(j);
		return -1;
	}
	return 0;
}

static void
maildir_stop(void *state)
{
	((struct maildir *)state)->stopping = 1;
}

static void
maildir_fini(void *state)
{
	struct maildir *md = state;
	if (md == NULL)
		return;
	if (md->pool != NULL)
		md->host->pool_free(md->pool);
	free(md->path);
	free(md->hostname);
	free(md);
}

static char *
maildir_strdup_printf(const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
	char *s = malloc(n);
	if (s != NULL)
		snprintf(s, n, fmt, a, b ? b : "");
	return s;
}

/* Creates the Maildir's three directories (and the path's parents) at init, on the loop. */
static int
maildir_prepare(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf) - 8)
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (maildir_mkdir(buf) < 0)
				return -1;
			*p = '/';
		}
	if (maildir_mkdir(buf) < 0)
		return -1;
	static const char *sub[] = {"/tmp", "/new", "/cur"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(buf + n, sizeof(buf) - n, "%s", sub[i]);
		if (maildir_mkdir(buf) < 0)
			return -1;
	}
	return 0;
}

static int
maildir_init(const struct nt_host *host, const char *channel, json_t *config, void **state,
	     char **err)
{
	struct maildir *md;
	const char *key, *path = NULL;
	json_t *v;
	long threads = 2;
	char host_name[256];
	(void)channel;

	if (host->pool_new == NULL) {
		*err = strdup("the host offers no worker pool");
		return -1;
	}
	json_object_foreach(config, key, v)
	{
		if (strcmp(key, "path") == 0 && json_is_string(v) && json_string_length(v) > 0)
			path = json_string_value(v);
		else if (strcmp(key, "path") == 0)
			*err = strdup("path: must be a non-empty string");
		else if (strcmp(key, "threads") == 0 && json_is_integer(v) &&
			 json_integer_value(v) >= 1 && json_integer_value(v) <= 16)
			threads = (long)json_integer_value(v);
		else if (strcmp(key, "threads") == 0)
			*err = strdup("threads: must be an integer from 1 to 16");
		else
			*err = maildir_strdup_printf("%s: unknown setting", key, NULL);
		if (*err != NULL)
			return -1;
	}
	if (path == NULL) {
		*err = strdup("path: required (the Maildir's directory)");
		return -1;
	}
	if (maildir_prepare(path) < 0) {
		*err = maildir_strdup_printf("path: cannot create the Maildir %s: %s", path,
					     strerror(errno));
		return -1;
	}
	md = calloc(1, sizeof(*md));
	if (md == NULL)
		return -1;
	md->host = host;
	md->path = strdup(path);
	if (gethostname(host_name, sizeof(host_name)) < 0)
		strcpy(host_name, "localhost");
	host_name[sizeof(host_name) - 1] = '\0';
	for (char *p = host_name; *p; p++) /* Maildir: '/' and ':' are not allowed */
		if (*p == '/' || *p == ':')
			*p = '_';
	md->hostname = strdup(host_name);
	md->pool = host->pool_new("maildir", (int)threads);
	if (md->pool == NULL) {
		*err = strdup("cannot start the worker pool");
		maildir_fini(md);
		return -1;
	}
	*state = md;
	return 0;
}

static const struct nt_plugin maildir_plugin = {
    .abi_major = NT_PLUGIN_ABI_MAJOR,
    .abi_minor = NT_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct nt_plugin),
    .name = "maildir",
    .payload = NT_PAYLOAD_MIME,
    .init = maildir_init,
    .deliver = maildir_deliver,
    .stop = maildir_stop,
    .fini = maildir_fini,
};

const struct nt_plugin *nurtured_plugin(void);

const struct nt_plugin *
nurtured_plugin(void)
{
	return &maildir_plugin;
}
