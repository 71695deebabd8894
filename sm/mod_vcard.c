/* SPDX-License-Identifier: MIT */
/* sm/mod_vcard.c: XEP-0054 vcard-temp. Anyone may read a local user's vCard
 * (sent to the bare JID, or with no to for one's own); only the user may
 * change it. vCards live in the store as the exact element received. */
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "sm/module.h"

#define VCARD_NS "vcard-temp"

/* The bare JID the iq is about: its to, or the sender's own account. */
static char *vcard_owner(const sm_session *sender, const xs_elem *iq)
{
    const char *to = xs_attr(iq, "to");
    if (to)
        return sm_bare_of(to);
    return sender ? xstrdup(sender->user->bare) : NULL;
}

/* The stored vCard; §3.1: none yet is an empty one. */
static xs_elem *vcard_reply(const xs_elem *iq, xs_elem *stored)
{
    xs_elem *card = stored ? xs_first(stored) : NULL;
    xs_elem *r = sm_iq_result(iq);
    if (card && strcmp(xs_name(card), "vCard") == 0 && xs_ns(card) &&
        strcmp(xs_ns(card), VCARD_NS) == 0)
        xs_add(r, xs_dup(card));
    else
        xs_add_new(r, "vCard", VCARD_NS);
    return r;
}

static sm_verdict vcard_get(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    char *owner = vcard_owner(sender, iq);
    if (!owner)
        return sm_reply_error(sm, iq, XS_BAD_REQUEST);
    sm_store_query q = { .name = "vcard-get", .user = owner };
    sm_store_ask_for_iq(sm, &q, iq, vcard_reply);
    free(owner);
    return SM_HANDLED;
}

static sm_verdict vcard_set(sm_server *sm, sm_session *sender, xs_elem *iq)
{
    char *owner = vcard_owner(sender, iq);
    /* §3.2: a user publishes only their own vCard. */
    if (!owner || !sender || strcmp(owner, sender->user->bare) != 0) {
        free(owner);
        return sm_reply_error(sm, iq, XS_FORBIDDEN);
    }
    sm_store_query q = { .name = "vcard-set", .user = owner, .is_set = true,
                         .payload = xs_first(iq) };
    sm_store_ask_for_iq(sm, &q, iq, NULL);
    free(owner);
    return SM_HANDLED;
}

static const sm_iq_route vcard_routes[] = {
    { SM_TO_ACCOUNT, SM_IQ_GET, VCARD_NS, "vCard", vcard_get },
    { SM_TO_ACCOUNT, SM_IQ_SET, VCARD_NS, "vCard", vcard_set },
    { 0 }
};
static const char *const vcard_features[] = { VCARD_NS, NULL };

const sm_module sm_mod_vcard = {
    .name = "vcard", .spec = "XEP-0054 vcard-temp", .features = vcard_features,
    .iq = vcard_routes,
};
