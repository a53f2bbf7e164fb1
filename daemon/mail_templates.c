/*
 * The French mails siaod sends (see mail.h): plain text and HTML, short,
 * nothing personal beyond what the recipient may see (their own name and
 * the link meant for them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "config.h"
#include "mail.h"

bool mail_enabled(const struct config *cfg)
{
	return cfg->smtp_url[0] != '\0';
}

/* <32 hex digits@domain of smtp_from>: fixed when the mail is queued. */
static void message_id(const struct config *cfg, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16] = {0};
	char h[33];
	if (RAND_bytes(raw, sizeof raw) != 1)
		abort(); /* no randomness: nothing safe to send */
	for (size_t i = 0; i < 16; i++) {
		h[2 * i] = hex[raw[i] >> 4];
		h[2 * i + 1] = hex[raw[i] & 15];
	}
	h[32] = '\0';
	const char *at = strrchr(cfg->smtp_from, '@');
	char domain[128];
	snprintf(domain, sizeof domain, "%s", at ? at + 1 : "siaod.invalid");
	domain[strcspn(domain, ">")] = '\0';
	snprintf(out, size, "<%s.siaod@%s>", h, domain);
}

/* HTML-escapes s into a new string. */
static char *html_escape(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' ? 6 : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;"
				: *p == '"' ? "&quot;" : NULL;
		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static char *build(const struct config *cfg, const char *to, const char *subject, const char *text,
		   const char *html)
{
	char mid[200];
	message_id(cfg, mid, sizeof mid);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "message_id", mid, "subject", subject, "text", text,
			      "html", html);
	if (j && to)
		json_object_set_new(j, "to", json_string(to));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static const char *const html_head =
	"<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>siaod</title></head>"
	"<body style=\"font-family:sans-serif;line-height:1.5;max-width:40em\">";

char *mail_invitation(const struct config *cfg, const char *to, const char *display_name,
		      const char *url, int valid_hours)
{
	if (!mail_enabled(cfg))
		return NULL;
	const char *name = display_name && *display_name ? display_name : "";
	int days = valid_hours / 24;
	char validity[64];
	if (valid_hours % 24 == 0)
		snprintf(validity, sizeof validity, "%d jour%s", days, days > 1 ? "s" : "");
	else
		snprintf(validity, sizeof validity, "%d heure%s", valid_hours, valid_hours > 1 ? "s" : "");
	char *text = NULL, *html = NULL, *ename = html_escape(name), *eurl = html_escape(url);
	char *out = NULL;
	if (!ename || !eurl)
		goto out;
	if (asprintf(&text,
		     "Bonjour%s%s,\n\n"
		     "Un compte vous a été ouvert sur siaod, l'outil d'orientation vers les logements "
		     "de transition du SIAO.\n\n"
		     "Pour l'activer, ouvrez ce lien (valable %s, utilisable une seule fois) :\n%s\n\n"
		     "Si vous n'attendiez pas ce message, ignorez-le : sans ce lien, le compte reste inactif.\n",
		     *name ? " " : "", name, validity, url) < 0)
		text = NULL;
	if (asprintf(&html,
		     "%s<p>Bonjour%s%s,</p><p>Un compte vous a été ouvert sur siaod, l'outil d'orientation "
		     "vers les logements de transition du SIAO.</p><p><a href=\"%s\">Activer mon compte</a> "
		     "(lien valable %s, utilisable une seule fois).</p><p>Si vous n'attendiez pas ce message, "
		     "ignorez-le : sans ce lien, le compte reste inactif.</p></body></html>",
		     html_head, *name ? " " : "", ename, eurl, validity) < 0)
		html = NULL;
	if (text && html)
		out = build(cfg, to, "Votre compte siaod", text, html);
out:
	free(text);
	free(html);
	free(ename);
	free(eurl);
	return out;
}

char *mail_reset(const struct config *cfg, const char *url, int valid_minutes)
{
	if (!mail_enabled(cfg))
		return NULL;
	char *text = NULL, *html = NULL, *eurl = html_escape(url), *out = NULL;
	if (!eurl)
		return NULL;
	if (asprintf(&text,
		     "Bonjour,\n\nUne réinitialisation du mot de passe de votre compte siaod a été demandée.\n\n"
		     "Pour choisir un nouveau mot de passe, ouvrez ce lien (valable %d minutes, utilisable "
		     "une seule fois) :\n%s\n\n"
		     "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de "
		     "passe reste inchangé.\n", valid_minutes, url) < 0)
		text = NULL;
	if (asprintf(&html,
		     "%s<p>Bonjour,</p><p>Une réinitialisation du mot de passe de votre compte siaod a été "
		     "demandée.</p><p><a href=\"%s\">Choisir un nouveau mot de passe</a> (lien valable %d "
		     "minutes, utilisable une seule fois).</p><p>Si vous n'êtes pas à l'origine de cette "
		     "demande, ignorez ce message : votre mot de passe reste inchangé.</p></body></html>",
		     html_head, eurl, valid_minutes) < 0)
		html = NULL;
	if (text && html)
		out = build(cfg, NULL, "Réinitialisation de votre mot de passe siaod", text, html);
	free(text);
	free(html);
	free(eurl);
	return out;
}
