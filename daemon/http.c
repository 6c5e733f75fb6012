/* http.c — the HTTP endpoints on http.listen: /metrics, /healthz, /readyz. */
#include "http.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dazd.h"
#include "ingest.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "room.h"

#define HTTP_CHUNK 16384

struct http_pss {
	char *body; /* LWS_PRE bytes, then the body */
	size_t len, sent;
	int status;
	const char *ctype;
};

static struct dazd *the_d; /* set by http_attach */

static struct dazd *http_dazd(struct lws *wsi)
{
	(void)wsi;
	return the_d;
}

void http_refresh_gauges(struct dazd *d)
{
	char labels[200];

	metrics_set(d->metrics, "dazd_ingest_buffer_events", "",
	            (double)ingest_buffered(d->ingest));
	metrics_set(d->metrics, "dazd_ingest_buffer_bytes", "",
	            (double)ingest_buffered_bytes(d->ingest));
	metrics_set(d->metrics, "dazd_spool_bytes", "", (double)ingest_spool_bytes(d->ingest));
	metrics_set(d->metrics, "dazd_db_up", "", pg_conn_up(d->db) ? 1 : 0);
	metrics_set(d->metrics, "dazd_db_reconnects_total", "", (double)pg_conn_reconnects(d->db));
	metrics_set(d->metrics, "dazd_start_time_seconds", "",
	            (double)(d->started_wall_us / 1000000));
	for (struct room *r = d->rooms; r; r = r->next) {
		if (r->removing)
			continue;
		for (int i = 0; i <= ROOM_OPEN_CIRCUIT; i++)
			metrics_set(d->metrics, "dazd_room_state",
			            metrics_labels(labels, sizeof(labels), "room", r->name, "state",
			                           room_state_name((enum room_state)i), NULL),
			            i == (int)r->state ? 1 : 0);
	}
}

static int set_body(struct http_pss *pss, int status, const char *ctype, const char *text,
                    size_t len)
{
	pss->body = malloc(LWS_PRE + len + 1);
	if (!pss->body)
		return -1;
	memcpy(pss->body + LWS_PRE, text, len);
	pss->len = len;
	pss->sent = 0;
	pss->status = status;
	pss->ctype = ctype;
	return 0;
}

static int respond(struct lws *wsi, struct http_pss *pss, const char *path)
{
	struct dazd *d = http_dazd(wsi);
	unsigned char hdr[LWS_PRE + 512], *p = hdr + LWS_PRE, *end = hdr + sizeof(hdr) - 1;
	int rc = 0;

	if (!d)
		return -1;
	if (strcmp(path, "/metrics") == 0) {
		size_t len;
		char *m;
		http_refresh_gauges(d);
		m = metrics_render(d->metrics, &len);
		if (!m)
			return -1;
		rc = set_body(pss, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", m,
		              len);
		free(m);
	} else if (strcmp(path, "/healthz") == 0) {
		rc = set_body(pss, HTTP_STATUS_OK, "text/plain; charset=utf-8", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		char msg[4096];
		size_t pos = 0;
		bool db = pg_conn_up(d->db), rooms = room_all_joined(d), leases = lease_settled(d);
		bool ready = db && leases && rooms && d->phase == DAZD_RUNNING;
		pos +=
		    (size_t)snprintf(msg + pos, sizeof(msg) - pos, "%s\ndatabase: %s\nleases: %s\n",
		                     ready ? "ready" : "not ready", db ? "up" : "down",
		                     leases ? "settled" : "first round pending");
		for (struct room *r = d->rooms; r && pos < sizeof(msg) - 200; r = r->next)
			if (!r->removing)
				pos += (size_t)snprintf(
				    msg + pos, sizeof(msg) - pos, "room %.64s: %s%s\n", r->name,
				    room_state_name(r->state), r->enabled ? "" : " (disabled)");
		rc = set_body(pss, ready ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE,
		              "text/plain; charset=utf-8", msg, pos);
	} else {
		rc = set_body(pss, HTTP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
		              "not found: try /metrics, /healthz, /readyz\n", 43);
	}
	if (rc != 0)
		return -1;
	if (lws_add_http_common_headers(wsi, (unsigned int)pss->status, pss->ctype,
	                                (lws_filepos_t)pss->len, &p, end) ||
	    lws_finalize_write_http_header(wsi, hdr + LWS_PRE, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
	struct http_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (!pss)
			return -1;
		memset(pss, 0, sizeof(*pss));
		return respond(wsi, pss, (const char *)in) ? -1 : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		size_t n;
		enum lws_write_protocol wp = LWS_WRITE_HTTP;
		if (!pss || !pss->body)
			return -1;
		n = pss->len - pss->sent;
		if (n > HTTP_CHUNK)
			n = HTTP_CHUNK;
		else
			wp = LWS_WRITE_HTTP_FINAL;
		/* lws_write may use the LWS_PRE bytes before the chunk: those were sent already. */
		if (lws_write(wsi, (unsigned char *)pss->body + LWS_PRE + pss->sent, n, wp) !=
		    (int)n)
			return -1;
		pss->sent += n;
		if (wp == LWS_WRITE_HTTP_FINAL) {
			free(pss->body);
			pss->body = NULL;
			if (lws_http_transaction_completed(wsi))
				return -1;
			return 0;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss) {
			free(pss->body);
			pss->body = NULL;
		}
		return 0;
	default:
		(void)len;
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols http_lws_protocol = {
    .name = "http",
    .callback = http_callback,
    .per_session_data_size = sizeof(struct http_pss),
};

int http_attach(struct dazd *d)
{
	the_d = d;
	return 0;
}
