/*
 * The ceiling for bench/ingest: a libevent HTTP server that reads each request and answers 202
 * with a body the size of nurtured's, doing nothing else. nurtured's single-event rate is
 * measured as a fraction of this.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>

static void
noop_reply(struct evhttp_request *req, void *arg)
{
	static const char body[] =
	    "{\"accepted\":1,\"duplicates\":0,\"id\":\"00000000-0000-0000-0000-000000000000\","
	    "\"duplicate\":false,\"events\":[{\"id\":\"00000000-0000-0000-0000-000000000000\","
	    "\"duplicate\":false}]}\n";
	struct evbuffer *out = evbuffer_new();
	(void)arg;
	evbuffer_add(out, body, sizeof(body) - 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, 202, "Accepted", out);
	evbuffer_free(out);
}

int
main(int argc, char **argv)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	int port = argc > 1 ? atoi(argv[1]) : 7899;

	evhttp_set_gencb(http, noop_reply, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) < 0) {
		fprintf(stderr, "noop_server: cannot listen on port %d\n", port);
		return 1;
	}
	event_base_dispatch(base);
	return 0;
}
