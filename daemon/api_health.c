/* Liveness, readiness and metrics: what an operator's probes and Prometheus ask. */
#include <stdlib.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"
#include "storeloop.h"
#include "util.h"

/* Alive: answered on the network loop alone, so it stays fast while the disk is busy. */
void
api_healthz(struct http_req *hr)
{
	http_reply_json(hr, 200, json_pack("{s:s}", "status", "ok"));
}

/* For /v1/status: the keys a reload named as waiting for a restart. */
json_t *
api_restart_needed(struct daemon *d)
{
	json_t *a = json_array();
	for (const char *const *k = daemon_restart_needed(d); *k != NULL; k++)
		json_array_append_new(a, json_string(*k));
	return a;
}

struct ready_job {
	struct store_job job;
	struct http_req *hr;
};

static enum store_status
ready_run(struct store *s, struct store_job *job)
{
	(void)job;
	return store_heartbeat(s, util_now_ms());
}

static void
ready_done(struct store_job *job)
{
	struct ready_job *j = (struct ready_job *)job;
	if (job->status == STORE_OK)
		http_reply_json(j->hr, 200, json_pack("{s:s}", "status", "ready"));
	else
		http_reply_error(j->hr, 503, "store not writable", NULL, -1);
	free(j);
}

/* Ready: the store took a commit just now. */
void
api_readyz(struct http_req *hr)
{
	struct ready_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->job.run = ready_run;
	j->job.done = ready_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

void
api_metrics(struct http_req *hr)
{
	char *text = metrics_render();
	http_reply_text(hr, 200, "text/plain; version=0.0.4", text);
	free(text);
}
