/*
 * names: what people read beside an id (a porteur's name, a commune's name)
 * and a commune named as people name it (--commune Sète), looked up through
 * the API the web UI uses (GET /v1/porteurs, GET /v1/communes?q=).
 */
#ifndef SIAOCTL_NAMES_H
#define SIAOCTL_NAMES_H

#include <jansson.h>

#include "siaoctl.h"

/* "Name (#id)" for a porteur id, or the id alone when the name cannot be
 * read (a token that may not list porteurs); to free. */
char *names_porteur(struct ctx *c, const json_t *id);
/* "Name (INSEE)" for a commune code, or the code alone; to free. */
char *names_commune(struct ctx *c, const json_t *insee);
/* --commune as people write it: an INSEE code is kept as it is; a name is
 * looked up (GET /v1/communes?q=) and must name one commune: its exact name
 * (accents and case as the API compares them), or the only answer. *insee
 * (to free) on success; otherwise the candidates are printed and false is
 * returned with c->exit set. */
bool names_commune_code(struct ctx *c, const char *opt, const char *text, char **insee);

#endif
