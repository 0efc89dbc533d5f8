/* The API's handlers: each validates on the network loop, then hands the store a job. */
#ifndef NURTURED_API_H
#define NURTURED_API_H

struct http_req;

void api_healthz(struct http_req *hr);
void api_readyz(struct http_req *hr);
void api_metrics(struct http_req *hr);
void api_events_post(struct http_req *hr);
void api_customers_post(struct http_req *hr);
void api_customer_get(struct http_req *hr);
void api_customer_delete(struct http_req *hr);

#endif
