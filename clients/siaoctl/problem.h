/*
 * problem: an error answer of the API (RFC 9457 problem+json) as one line:
 *   siaoctl: 409 no-free-place: no place of this offer is free from ... (pointer /x: code)
 * with the extra members the problem carries (current status, rules, ...).
 */
#ifndef SIAOCTL_PROBLEM_H
#define SIAOCTL_PROBLEM_H

#include "http.h"

/* The line for the answer resp (a 4xx or 5xx), to free. */
char *problem_line(const struct http_resp *resp);
/* Prints it on stderr. */
void problem_print(const struct http_resp *resp);

#endif
