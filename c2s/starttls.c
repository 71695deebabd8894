/* SPDX-License-Identifier: MIT */
/* c2s/starttls.c: STARTTLS (RFC 6120 §5) and what follows any TLS handshake,
 * direct (XEP-0368) or upgraded. */
#include <string.h>

#include "c2s/c2s.h"
#include "libcommon/log.h"

void c2s_starttls(c2s_conn *cn, xs_elem *st)
{
    (void)st;
    if (net_conn_is_tls(cn->net) || !cn->srv->config.tls || cn->is_authed) {
        /* RFC 6120 §5.4.2.2: <failure/>, then the stream ends. */
        log_warn(cn->who, "STARTTLS refused (already encrypted, authenticated or no certificate)");
        c2s_conn_send_str(cn, "<failure xmlns='" XS_NS_TLS "'/>");
        c2s_conn_close(cn, -1, NULL);
        return;
    }
    c2s_conn_send_str(cn, "<proceed xmlns='" XS_NS_TLS "'/>");
    /* §5.4.3.3: the client opens a new stream over TLS; what it sent after
     * <starttls/> in plaintext is not to be trusted, so the parser starts
     * over (xstream_reset keeps nothing of this stream). */
    c2s_conn_restart(cn);
    cn->state = C2S_CONN_TLS;
    net_conn_start_tls(cn->net, cn->srv->config.tls, NULL);
}

void c2s_on_tls_ready(c2s_conn *cn)
{
    tls_session *t = net_conn_tls(cn->net);
    const char *sni = t ? tls_session_sni(t) : NULL;
    log_info(cn->who, "TLS established: %s%s%s", t ? tls_session_version(t) : "?",
             sni ? ", SNI " : "", sni ? sni : "");
    if (cn->state == C2S_CONN_TLS)
        cn->state = C2S_CONN_OPENING;
}
