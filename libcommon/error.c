/* SPDX-License-Identifier: MIT */
/* libcommon/error.c: names for the error codes. */
#include "libcommon/error.h"

#include <uv.h>

const char *xe_str(int err)
{
    switch (err) {
    case 0: return "success";
    case XE_BAD_XML: return "malformed or restricted XML";
    case XE_LIMIT: return "limit exceeded";
    case XE_BAD_JID: return "invalid JID";
    case XE_AUTH: return "authentication failed";
    case XE_CONFIG: return "invalid configuration";
    case XE_TLS: return "TLS failure";
    case XE_CERT: return "certificate verification failed";
    case XE_PROTOCOL: return "protocol violation";
    case XE_NOT_FOUND: return "not found";
    case XE_CLOSED: return "closed";
    case XE_BUSY: return "queue full";
    }
    if (err > -1000 || err < -1999)
        return uv_strerror(err);
    return "unknown error";
}
