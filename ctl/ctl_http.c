#include "ctl.h"

#include <curl/curl.h>
#include "build.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

struct buf {
	char *p;
	size_t n;
};

static CURL *ctl_curl;

void
ctl_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (ctl_curl = curl_easy_init()) == NULL)
		ctl_die(CTL_EXIT_CONNECT, "cannot initialise libcurl");
}

void
ctl_http_fini(void)
{
	curl_easy_cleanup(ctl_curl);
	curl_global_cleanup();
}

/* Answers are small documents: kept whole in memory, then parsed once. */
static size_t
ctl_http_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;
	char *p = realloc(b->p, b->n + len + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->n, data, len);
	b->p = p;
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

char *
ctl_escape(const char *s)
{
	char *e = curl_easy_escape(ctl_curl, s, 0);
	char *r;

	if (e == NULL)
		ctl_die(CTL_EXIT_CONNECT, "out of memory");
	r = ctl_strdup(e);
	curl_free(e);
	return r;
}

long
ctl_http(const struct ctl *c, const char *method, const char *path, const json_t *body,
	 json_t **out)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct buf b = {NULL, 0};
	char *url = ctl_asprintf("%s%s", c->url, path), *auth = NULL, *text = NULL;
	long status = 0;
	CURLcode rc;

	*out = NULL;
	curl_easy_reset(ctl_curl);
	curl_easy_setopt(ctl_curl, CURLOPT_URL, url);
	curl_easy_setopt(ctl_curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(ctl_curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ctl_curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(ctl_curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(ctl_curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(ctl_curl, CURLOPT_WRITEFUNCTION, ctl_http_write);
	curl_easy_setopt(ctl_curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(ctl_curl, CURLOPT_USERAGENT, "nurturectl/" PACKAGE_VERSION);
	h = curl_slist_append(h, "Accept: application/json");
	if (c->token != NULL) {
		auth = ctl_asprintf("Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		text = jsonout_dumps(body, JSON_COMPACT);
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(ctl_curl, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(ctl_curl, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(ctl_curl, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(ctl_curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(ctl_curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	if (auth != NULL) {
		memset(auth, 0, strlen(auth)); /* the token leaves no copy behind */
		free(auth);
	}
	free(text);
	if (rc != CURLE_OK) {
		fprintf(stderr, "nurturectl: cannot reach %s: %s\n", c->url,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(url);
		free(b.p);
		exit(CTL_EXIT_CONNECT);
	}
	free(url);
	if (b.p != NULL)
		*out = json_loadb(b.p, b.n, 0, NULL);
	free(b.p);
	return status;
}

json_t *
ctl_http_ok(const struct ctl *c, const char *method, const char *path, const json_t *body)
{
	json_t *doc;
	long status = ctl_http(c, method, path, body, &doc);
	const char *err, *field;

	if (status < 400)
		return doc;
	err = json_string_value(json_object_get(doc, "error"));
	field = json_string_value(json_object_get(doc, "field"));
	fprintf(stderr, "nurturectl: %s %s: HTTP %ld: %s", method, path, status,
		err ? err : "(no error message)");
	if (field != NULL)
		fprintf(stderr, " (field '%s')", field);
	fputc('\n', stderr);
	json_decref(doc);
	exit(CTL_EXIT_API);
}
