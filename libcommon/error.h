/* SPDX-License-Identifier: MIT */
/* libcommon/error.h: one error space. Functions return 0 or a negative code:
 * libuv's UV_E* pass through unchanged; ours live in -1000..-1999. */
#ifndef XMPPD_LIBCOMMON_ERROR_H
#define XMPPD_LIBCOMMON_ERROR_H

enum {
    XE_BAD_XML = -1000,    /* not well-formed, or a DTD, PI, entity or comment */
    XE_LIMIT = -1001,      /* a configured limit was exceeded */
    XE_BAD_JID = -1002,    /* not a valid JID (RFC 7622) */
    XE_AUTH = -1003,       /* credentials rejected */
    XE_CONFIG = -1004,     /* the configuration is invalid */
    XE_TLS = -1005,        /* TLS handshake or record failure */
    XE_CERT = -1006,       /* the peer's certificate did not verify */
    XE_PROTOCOL = -1007,   /* the peer broke the protocol */
    XE_NOT_FOUND = -1008,  /* no such name, route or file */
    XE_CLOSED = -1009,     /* the connection or stream is closed */
    XE_BUSY = -1010,       /* a queue is full: try again later */
};

/* Names err, whether ours or libuv's. Never NULL. */
const char *xe_str(int err);
#endif
