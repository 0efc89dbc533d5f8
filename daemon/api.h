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
void api_messages_get(struct http_req *hr);
void api_message_get(struct http_req *hr);
void api_message_post(struct http_req *hr);
void api_customer_post(struct http_req *hr);
void api_customer_consent(struct http_req *hr, const char *customer, const char *action);
void api_campaign_post(struct http_req *hr);
void api_confirm_get(struct http_req *hr);
void api_confirm_post(struct http_req *hr);
void api_unsubscribe_get(struct http_req *hr);
void api_unsubscribe_post(struct http_req *hr);
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
