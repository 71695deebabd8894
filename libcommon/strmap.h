/* SPDX-License-Identifier: MIT */
/* libcommon/strmap.h: a hash map from strings (bare JIDs, names) to
 * pointers, for the per-user tables of the processes. */
#ifndef XMPPD_LIBCOMMON_STRMAP_H
#define XMPPD_LIBCOMMON_STRMAP_H
#include <stddef.h>

typedef struct strmap strmap;

strmap *strmap_new(void);
/* Frees the map; free_value (may be NULL) is called on every value. */
void strmap_free(strmap *m, void (*free_value)(void *value));
/* The value stored under key, or NULL. */
void *strmap_get(const strmap *m, const char *key);
/* Stores value (not NULL) under a copy of key; returns the value it replaced,
 * or NULL. */
void *strmap_put(strmap *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when it was absent. */
void *strmap_remove(strmap *m, const char *key);
size_t strmap_count(const strmap *m);
/* Calls fn for every entry, in no particular order; fn must not change m. */
void strmap_each(const strmap *m, void (*fn)(const char *key, void *value, void *ud),
                 void *ud);
#endif
