/* SPDX-License-Identifier: MIT */
/* libcommon/cfg.h: the suite's one XML config file (etc/xmppd.xml). Every
 * process loads the whole file and reads its own section. Errors carry the
 * file and line: "xmppd.xml:42: router: port \"52x2\" is not a number". */
#ifndef XMPPD_LIBCOMMON_CFG_H
#define XMPPD_LIBCOMMON_CFG_H
#include <stdbool.h>
#include <stddef.h>

typedef struct cfg cfg;
typedef struct cfg_node cfg_node;

typedef struct cfg_diag {
    char file[256];
    int line;                 /* 0 when the error has no place in the file */
    char message[512];
} cfg_diag;

/* Loads and parses path (no DTD, no entities, no network). On success *out is
 * a new cfg the caller frees with cfg_free(). Returns 0 or XE_CONFIG with
 * diag filled: the system's reason when the file cannot be read, libxml2's
 * message and line when it is not well-formed, or a DTD or a root other than
 * <xmppd>. diag may be NULL. */
int cfg_load(const char *path, cfg **out, cfg_diag *diag);
/* The same from a string; name stands in for the file name in diagnostics. */
int cfg_load_string(const char *xml, const char *name, cfg **out, cfg_diag *diag);
void cfg_free(cfg *c);                       /* NULL is fine */
const cfg_node *cfg_root(const cfg *c);      /* the <xmppd> element */
const char *cfg_path(const cfg *c);          /* the file as given */
/* Resolves a path from the config against the config file's folder (absolute
 * and empty paths stay). Returns a new string the caller frees. */
char *cfg_resolve_path(const cfg *c, const char *path);

/* Navigation over elements only; the nodes live as long as their cfg. Each
 * takes NULL and then returns NULL, so lookups chain. */
const cfg_node *cfg_child(const cfg_node *n, const char *name);  /* first, or NULL */
/* The next sibling of n with the same name as n, or NULL. */
const cfg_node *cfg_next(const cfg_node *n);
const cfg_node *cfg_first(const cfg_node *n);  /* first child element, any name */
const cfg_node *cfg_sibling(const cfg_node *n);/* next sibling element, any name */
const char *cfg_name(const cfg_node *n);
int cfg_line(const cfg_node *n);
const char *cfg_attr(const cfg_node *n, const char *name);   /* NULL when absent */
/* The trimmed text directly inside n (not inside its child elements), "" when
 * there is none. */
const char *cfg_text(const cfg_node *n);

/* Typed attribute readers. When the attribute is absent (or n is NULL) *out =
 * def and they return 0; when it is present but invalid they fill diag (file,
 * the node's line, "SECTION: ATTR \"VALUE\" is not ...") and return XE_CONFIG.
 * The section for messages is the name of n's outermost ancestor below
 * <xmppd> (n's own name if it is one, "xmppd" for the root). diag may be
 * NULL. A value over max or under min is "out of range (MIN..MAX)". */
int cfg_int(const cfg_node *n, const char *attr, long def, long min, long max,
            long *out, cfg_diag *diag);
int cfg_bool(const cfg_node *n, const char *attr, bool def, bool *out,
             cfg_diag *diag);                /* yes/no, true/false, on/off, 1/0 */
/* A size: a number with an optional k, M or G suffix (powers of 1024, either
 * case). */
int cfg_size(const cfg_node *n, const char *attr, size_t def, size_t min,
             size_t max, size_t *out, cfg_diag *diag);
/* A duration: a number with ms, s, min or h (no suffix means seconds). */
int cfg_duration_ms(const cfg_node *n, const char *attr, long def, long min,
                    long max, long *out, cfg_diag *diag);
/* A string attribute that must be present (it may be empty): "SECTION: <ELEM>
 * needs attribute ATTR" otherwise. *out is borrowed from the cfg. */
int cfg_required(const cfg_node *n, const char *attr, const char **out,
                 cfg_diag *diag);
/* Fills diag with n's file and line and a formatted message, to which it
 * prefixes n's section ("router: "); returns XE_CONFIG. With n NULL the diag
 * has no file, no line and no prefix. */
int cfg_error(cfg_diag *diag, const cfg_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Checks that n has only the given attributes (NULL-terminated list); an
 * unknown one is an error naming it (catches typos): "SECTION: <ELEM> has
 * unknown attribute \"ATTR\"". Returns 0 or XE_CONFIG. */
int cfg_check_attrs(const cfg_node *n, const char *const *allowed,
                    cfg_diag *diag);
/* Writes d to stderr for a main: "FILE:LINE: MESSAGE", or "FILE: MESSAGE"
 * when the line is 0, or just the message when there is no file. */
void cfg_diag_print(const cfg_diag *d);
#endif
