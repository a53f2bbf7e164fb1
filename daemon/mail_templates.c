/*
 * The French mails siaod sends (see mail.h): plain text and HTML, short,
 * nothing personal beyond what the recipient may see (their own name and
 * the link meant for them).
 */
#include <stdarg.h>
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

/* ------------------------------------------------------------ notifications */

static const char *kind_label(const char *kind)
{
	static const char *const labels[][2] = {
		{"stay_ending", "fins de séjour"},
		{"stay_overdue", "séjours à clôturer"},
		{"proposal_new", "nouvelles propositions"},
		{"proposal_answered", "réponses à vos propositions"},
		{"proposal_reminder", "rappels de propositions sans réponse"},
		{"capacity_available", "places qui se libèrent"},
		{"digest", "récapitulatif quotidien"},
	};
	for (size_t i = 0; i < sizeof labels / sizeof *labels; i++)
		if (strcmp(labels[i][0], kind) == 0)
			return labels[i][1];
	return kind;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Appends to a growing string; false when out of memory (then *buf is freed). */
static bool append(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool append(char **buf, size_t *len, const char *fmt, ...)
{
	if (!*buf)
		return false;
	va_list ap;
	va_start(ap, fmt);
	char *piece = NULL;
	int n = vasprintf(&piece, fmt, ap);
	va_end(ap);
	char *grown = n >= 0 ? realloc(*buf, *len + (size_t)n + 1) : NULL;
	if (!grown) {
		free(piece);
		free(*buf);
		*buf = NULL;
		return false;
	}
	memcpy(grown + *len, piece, (size_t)n + 1);
	*len += (size_t)n;
	*buf = grown;
	free(piece);
	return true;
}

/* One item: its title, text and link, in text and in HTML. */
static void append_item(char **text, size_t *tl, char **html, size_t *hl, const struct config *cfg,
			const json_t *v, bool bullet)
{
	char *et = html_escape(jstr(v, "title")), *ex = html_escape(jstr(v, "text")),
	     *el = html_escape(jstr(v, "link")), *eu = html_escape(cfg->public_url);
	if (et && ex && el && eu) {
		append(text, tl, "%s%s\n%s%s\n%sVoir dans siaod : %s/ui/%s\n\n", bullet ? "- " : "", jstr(v, "title"),
		       bullet ? "  " : "", jstr(v, "text"), bullet ? "  " : "", cfg->public_url, jstr(v, "link"));
		append(html, hl, "%s<p><strong>%s</strong><br>%s<br><a href=\"%s/ui/%s\">Voir dans siaod</a></p>%s",
		       bullet ? "<li>" : "", et, ex, eu, el, bullet ? "</li>" : "");
	} else {
		free(*text);
		free(*html);
		*text = *html = NULL;
	}
	free(et);
	free(ex);
	free(el);
	free(eu);
}

static void append_footer(char **text, size_t *tl, char **html, size_t *hl, const struct config *cfg,
			  const char *kind, const char *unsub_url)
{
	char *eu = html_escape(unsub_url), *ep = html_escape(cfg->public_url);
	if (eu && ep) {
		append(text, tl, "--\nVous recevez ce message selon vos préférences de notification (%s).\n"
		       "Ne plus recevoir ces messages : %s\nGérer vos notifications : %s/ui/#/compte\n",
		       kind_label(kind), unsub_url, cfg->public_url);
		append(html, hl, "<hr><p style=\"font-size:smaller;color:#555\">Vous recevez ce message selon vos "
		       "préférences de notification (%s). <a href=\"%s\">Ne plus recevoir ces messages</a> · "
		       "<a href=\"%s/ui/#/compte\">Gérer vos notifications</a></p></body></html>",
		       kind_label(kind), eu, ep);
	} else {
		free(*text);
		free(*html);
		*text = *html = NULL;
	}
	free(eu);
	free(ep);
}

static json_t *build_json(const struct config *cfg, const char *to, const char *subject, const char *text,
			  const char *html, const char *unsub_url, json_t *youth_ids)
{
	char mid[200];
	message_id(cfg, mid, sizeof mid);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "message_id", mid, "to", to, "subject", subject,
			 "text", text, "html", html, "list_unsubscribe", unsub_url, "youth_ids", youth_ids);
}

json_t *mail_notification(const struct config *cfg, const char *to, const json_t *view, const char *unsub_url)
{
	if (!mail_enabled(cfg))
		return NULL;
	size_t tl = 0, hl = 0;
	char *text = strdup(""), *html = strdup("");
	append(&text, &tl, "Bonjour,\n\n");
	append(&html, &hl, "%s<p>Bonjour,</p>", html_head);
	append_item(&text, &tl, &html, &hl, cfg, view, false);
	append_footer(&text, &tl, &html, &hl, cfg, jstr(view, "kind"), unsub_url);
	char *subject = NULL;
	json_t *out = NULL;
	if (text && html && asprintf(&subject, "siaod : %s", jstr(view, "title")) >= 0) {
		json_t *ids = json_array();
		json_t *y = json_object_get(view, "youth_id");
		if (ids && json_is_integer(y))
			json_array_append(ids, y);
		out = ids ? build_json(cfg, to, subject, text, html, unsub_url, ids) : NULL;
	}
	free(subject);
	free(text);
	free(html);
	return out;
}

json_t *mail_digest(const struct config *cfg, const char *to, const json_t *items, const char *today,
		    const char *unsub_url)
{
	if (!mail_enabled(cfg))
		return NULL;
	size_t n = json_array_size(items), urgent = 0;
	for (size_t i = 0; i < n; i++)
		if (json_is_true(json_object_get(json_array_get(items, i), "urgent")))
			urgent++;
	/* today is YYYY-MM-DD: the subject says DD/MM/YYYY */
	char day[11] = "";
	if (strlen(today) == 10)
		snprintf(day, sizeof day, "%.2s/%.2s/%.4s", today + 8, today + 5, today);
	size_t tl = 0, hl = 0;
	char *text = strdup(""), *html = strdup("");
	append(&text, &tl, "Bonjour,\n\nVoici vos notifications siaod depuis le dernier récapitulatif.\n\n");
	append(&html, &hl, "%s<p>Bonjour,</p><p>Voici vos notifications siaod depuis le dernier récapitulatif.</p>",
	       html_head);
	/* by urgency: what ends in 7 days or less (or is overdue) first; the
	 * items come sorted so, urgent ones first */
	for (int pass = 0; pass < 2; pass++) {
		size_t count = pass == 0 ? urgent : n - urgent;
		if (count == 0)
			continue;
		const char *head = pass == 0 ? "Urgent : dans 7 jours ou moins" : "À suivre";
		append(&text, &tl, "%s (%zu)\n\n", head, count);
		append(&html, &hl, "<h2 style=\"font-size:1.1em\">%s (%zu)</h2><ul>", head, count);
		for (size_t i = 0; i < n; i++) {
			const json_t *v = json_array_get(items, i);
			if (json_is_true(json_object_get(v, "urgent")) == (pass == 0))
				append_item(&text, &tl, &html, &hl, cfg, v, true);
		}
		append(&html, &hl, "</ul>");
	}
	append_footer(&text, &tl, &html, &hl, cfg, "digest", unsub_url);
	char *subject = NULL;
	json_t *out = NULL;
	if (text && html && asprintf(&subject, "siaod : votre récapitulatif du %s (%zu notification%s)", day, n,
				     n > 1 ? "s" : "") >= 0) {
		json_t *ids = json_array();
		for (size_t i = 0; ids && i < n; i++) {
			json_t *y = json_object_get(json_array_get(items, i), "youth_id");
			if (json_is_integer(y))
				json_array_append(ids, y);
		}
		out = ids ? build_json(cfg, to, subject, text, html, unsub_url, ids) : NULL;
	}
	free(subject);
	free(text);
	free(html);
	return out;
}
