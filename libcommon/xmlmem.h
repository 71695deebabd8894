/* SPDX-License-Identifier: MIT */
/* libcommon/xmlmem.h: libxml2's memory functions. A parser's bigger blocks
 * (its context, input buffer, name table and name pool: most of its memory)
 * are mapped on their own, so that a parser freed while its connection
 * rests (xstream_rest) gives those pages back to the system at once instead
 * of leaving holes between the connections' live blocks in the heap. Small
 * blocks are malloc's. */
#ifndef XMPPD_LIBCOMMON_XMLMEM_H
#define XMPPD_LIBCOMMON_XMLMEM_H
#include <stddef.h>

/* Installs the functions (xmlMemSetup) and a one-page initial input buffer
 * for new parsers; later calls do nothing. Blocks
 * libxml2 got from malloc before are freed by free as before. */
void xmlmem_init(void);
/* Bytes in mapped blocks now, for tests. */
size_t xmlmem_mapped_bytes(void);
#endif
