/* http.h — the HTTP endpoints on http.listen: /metrics, /healthz, /readyz. */
#ifndef DAZD_HTTP_H
#define DAZD_HTTP_H

struct lws_protocols;

/* Refresh gauges that are sampled (buffer depth, room states…) right before rendering. */
struct dazd;
void http_refresh_gauges(struct dazd *d);

/* Make the context reachable from the HTTP callbacks (before the loop runs). */
int http_attach(struct dazd *d);

/* lws HTTP server protocol, listed first in main.c's protocols. */
extern const struct lws_protocols http_lws_protocol;

#endif
