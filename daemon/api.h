/* The API's handlers: each validates on the network loop, then hands the store a job. */
#ifndef NURTURED_API_H
#define NURTURED_API_H

#include <jansson.h>

struct daemon;
struct http_req;

void api_healthz(struct http_req *hr);
void api_readyz(struct http_req *hr);
void api_metrics(struct http_req *hr);
void api_events_post(struct http_req *hr);
void api_customers_post(struct http_req *hr);
void api_customer_get(struct http_req *hr);
void api_customer_delete(struct http_req *hr);
void api_customers_get(struct http_req *hr);
/* POST /v1/customers with {"customers": [...]}; takes BODY over. */
void api_customers_batch(struct http_req *hr, json_t *body);
void api_customer_export(struct http_req *hr, const char *ext_id);
void api_messages_get(struct http_req *hr);
void api_message_get(struct http_req *hr);
void api_message_post(struct http_req *hr);
/* POST /v1/messages: a transactional send (api_transactional.c). */
void api_messages_post(struct http_req *hr);
void api_customer_post(struct http_req *hr);
void api_customer_consent(struct http_req *hr, const char *customer, const char *action);
void api_campaign_post(struct http_req *hr);
void api_confirm_get(struct http_req *hr);
void api_confirm_post(struct http_req *hr);
void api_unsubscribe_get(struct http_req *hr);
void api_unsubscribe_post(struct http_req *hr);
/* POST /subscribe: the public signup form (api_subscribe.c). */
void api_subscribe_post(struct http_req *hr);
void api_suppressions_get(struct http_req *hr);
void api_suppressions_post(struct http_req *hr);
void api_suppression_delete(struct http_req *hr);
void api_status(struct http_req *hr);
/* The configuration keys changed on disk that wait for a restart, as a JSON array. */
json_t *api_restart_needed(struct daemon *d);
void api_campaigns_get(struct http_req *hr);
void api_campaign_get(struct http_req *hr);
void api_inbound_post(struct http_req *hr);
void api_inbound_get(struct http_req *hr);
void api_webhook_post(struct http_req *hr);
/* The small self-contained HTML page of the links in mails (German when DE). */
void consent_page(struct http_req *hr, int code, int de, const char *title, const char *body);
/* Issue 19's figures of campaign C from its counters (api_measure.c); ALL: across campaigns. */
struct campaign;
struct measure_row;
json_t *api_measure_json(const struct campaign *c, const struct measure_row *rows, size_t n,
			 const struct measure_row *all, size_t n_all);
/* The experiment's results by arm, or null when C has none and no counter names an arm. */
json_t *api_experiment_json(const struct campaign *c, const struct measure_row *rows, size_t n);
/* GET /c/{token}: a tracked link (api_track.c, issue 19). */
void api_click_get(struct http_req *hr);
/* GET /o/{token}: the open pixel (api_track.c, issue 19; off by default). */
void api_open_get(struct http_req *hr);
/* issue 17: segments and broadcasts (api_segments.c, api_broadcasts.c). */
void api_segments_get(struct http_req *hr);
void api_segments_post(struct http_req *hr);
void api_segment_get(struct http_req *hr);
void api_segment_delete(struct http_req *hr);
void api_broadcasts_get(struct http_req *hr);
void api_broadcasts_post(struct http_req *hr);
void api_broadcast_get(struct http_req *hr);
void api_broadcast_post(struct http_req *hr);
void api_broadcast_patch(struct http_req *hr);
void api_broadcast_delete(struct http_req *hr);
void api_archive_get(struct http_req *hr);

#endif
