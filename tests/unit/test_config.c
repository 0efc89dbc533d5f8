/*
 * Unit tests of the configuration loader (config.c), its diagnostics (diag.c) and the key
 * position scanner (jsonpos.c). Config files are written into a mkdtemp() directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugins/nurtured-plugin.h"
#include "config.h"
#include "diag.h"
#include "jsonpos.h"
#include "log.h"

static char tmpdir[PATH_MAX];

/* What one test holds; the teardown frees it even when an assertion fails. */
struct fx {
	char path[PATH_MAX + 64];
	struct diag d;
	struct config *c;
	struct jsonpos *jp;
};

static int
group_setup(void **state)
{
	(void)state;
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/nt-test-config-XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	diag_init(&f->d, "?", NULL);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	config_free(f->c);
	diag_free(&f->d);
	jsonpos_free(f->jp);
	if (f->path[0] != '\0')
		unlink(f->path);
	free(f);
	return 0;
}

/* Writes TEXT to NAME in the test directory and loads it. */
static struct config *
load(struct fx *f, const char *name, const char *text)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", tmpdir, name);
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	diag_init(&f->d, f->path, NULL);
	f->c = config_load(f->path, &f->d);
	return f->c;
}

/*
 * Line and column (1-based) of the first NEEDLE in TEXT. Columns count characters, not bytes,
 * as Jansson's do (a UTF-8 continuation byte does not start a column).
 */
static void
pos_of(const char *text, const char *needle, int *line, int *col)
{
	const char *at = strstr(text, needle);
	assert_non_null(at);
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)*p & 0xc0) != 0x80)
			(*col)++;
	}
}

/* True when MSG starts with "FILE:LINE:COL: ". */
static int
starts_at(const char *msg, const char *file, int line, int col)
{
	char prefix[PATH_MAX + 128];
	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", file, line, col);
	return strncmp(msg, prefix, strlen(prefix)) == 0;
}

/* The file was refused with exactly one diagnostic, at NEEDLE's position, mentioning NAME. */
static void
assert_one_diag_at(struct fx *f, const char *text, const char *needle, const char *name)
{
	int line, col;
	pos_of(text, needle, &line, &col);
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	if (!starts_at(f->d.msgs[0], f->path, line, col))
		fail_msg("expected %s:%d:%d: ..., got \"%s\"", f->path, line, col, f->d.msgs[0]);
	if (strstr(f->d.msgs[0], name) == NULL)
		fail_msg("\"%s\" does not name %s", f->d.msgs[0], name);
}

/* ---- embedded defaults ---- */

static void
test_defaults_listen_on_loopback_7800(void **state)
{
	struct fx *f = *state;
	f->c = config_load(NULL, &f->d);
	assert_non_null(f->c);
	assert_int_equal(f->d.n, 0);
	assert_string_equal(f->c->listen_host, "127.0.0.1");
	assert_string_equal(f->c->listen_port, "7800");
	assert_true(config_listen_is_loopback(f->c));
}

static void
test_defaults_durability_full(void **state)
{
	struct fx *f = *state;
	f->c = config_load(NULL, &f->d);
	assert_non_null(f->c);
	assert_int_equal(f->c->durability_full, 1);
}

static void
test_defaults_limits(void **state)
{
	struct fx *f = *state;
	f->c = config_load(NULL, &f->d);
	assert_non_null(f->c);
	assert_int_equal(f->c->max_batch, 1000);
	assert_int_equal(f->c->max_body_bytes, 1024 * 1024);
	assert_int_equal(f->c->shutdown_timeout_s, 10);
	assert_int_equal(f->c->log_level, LOG_LEVEL_INFO);
}

static void
test_defaults_public_url_derived_from_listen(void **state)
{
	struct fx *f = *state;
	f->c = config_load(NULL, &f->d);
	assert_non_null(f->c);
	assert_string_equal(f->c->public_url, "http://127.0.0.1:7800");
}

static void
test_defaults_have_no_file_tokens_secret_and_maildir_channels(void **state)
{
	struct fx *f = *state;
	f->c = config_load(NULL, &f->d);
	assert_non_null(f->c);
	assert_null(f->c->file);
	assert_int_equal(f->c->n_api_tokens, 0);
	assert_null(f->c->secret);
	/* Without channels in a file: "mail" and "helpdesk" as Maildirs under data_dir. */
	assert_true(json_is_object(f->c->channels));
	assert_int_equal(json_object_size(f->c->channels), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(f->c->channels, "mail"), "path")),
	    "./var/nurtured/maildir");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(f->c->channels, "helpdesk"), "plugin")),
			    "maildir");
	/* The helpdesk is the team's inbox: internal, with its own recipient. */
	const struct channel_conf *h = channel_conf_find(f->c->chans, f->c->n_chans, "helpdesk");
	assert_non_null(h);
	assert_true(h->internal);
	assert_string_equal(h->to, "helpdesk@localhost.localdomain");
	assert_false(channel_conf_find(f->c->chans, f->c->n_chans, "mail")->internal);
}

/* ---- a valid file ---- */

static const char full_text[] =
    "{\n"
    "  \"listen\": \"0.0.0.0:8443\",\n"
    "  \"data_dir\": \"/srv/nt/data\",\n"
    "  \"api_tokens\": [\"0123456789abcdef\", \"fedcba9876543210-second\"],\n"
    "  \"public_url\": \"https://mail.example.com\",\n"
    "  \"secret\": \"0123456789abcdef0123456789abcdef-extra\",\n"
    "  \"campaigns_dir\": \"/srv/nt/campaigns\",\n"
    "  \"templates_dir\": \"/srv/nt/templates\",\n"
    "  \"plugin_dir\": \"/srv/nt/plugins\",\n"
    "  \"channels\": {\n"
    "    \"mail\": {\"plugin\": \"smtp\", \"host\": \"localhost\", \"port\": 25},\n"
    "    \"demo\": {\"plugin\": \"maildir\", \"path\": \"/srv/nt/maildir\"}\n"
    "  },\n"
    "  \"log_level\": \"debug\",\n"
    "  \"durability\": \"normal\",\n"
    "  \"max_body_bytes\": 2048,\n"
    "  \"max_batch\": 50,\n"
    "  \"shutdown_timeout\": 30\n"
    "}\n";

static void
test_full_file_sets_strings(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "full.json", full_text));
	assert_int_equal(f->d.n, 0);
	assert_string_equal(f->c->file, f->path);
	assert_string_equal(f->c->listen_host, "0.0.0.0");
	assert_string_equal(f->c->listen_port, "8443");
	assert_false(config_listen_is_loopback(f->c));
	assert_string_equal(f->c->data_dir, "/srv/nt/data");
	assert_string_equal(f->c->public_url, "https://mail.example.com");
	assert_string_equal(f->c->secret, "0123456789abcdef0123456789abcdef-extra");
	assert_string_equal(f->c->campaigns_dir, "/srv/nt/campaigns");
	assert_string_equal(f->c->templates_dir, "/srv/nt/templates");
	assert_string_equal(f->c->plugin_dir, "/srv/nt/plugins");
}

static void
test_full_file_sets_tokens(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "full.json", full_text));
	assert_int_equal(f->c->n_api_tokens, 2);
	assert_string_equal(f->c->api_tokens[0], "0123456789abcdef");
	assert_string_equal(f->c->api_tokens[1], "fedcba9876543210-second");
}

static void
test_full_file_sets_numbers_and_enums(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "full.json", full_text));
	assert_int_equal(f->c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(f->c->durability_full, 0);
	assert_int_equal(f->c->max_body_bytes, 2048);
	assert_int_equal(f->c->max_batch, 50);
	assert_int_equal(f->c->shutdown_timeout_s, 30);
}

static void
test_full_file_sets_channels(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "full.json", full_text));
	assert_int_equal(json_object_size(f->c->channels), 2);
	json_t *mail = json_object_get(f->c->channels, "mail");
	json_t *demo = json_object_get(f->c->channels, "demo");
	assert_string_equal(json_string_value(json_object_get(mail, "plugin")), "smtp");
	assert_int_equal(json_integer_value(json_object_get(mail, "port")), 25);
	assert_string_equal(json_string_value(json_object_get(demo, "plugin")), "maildir");
	assert_string_equal(json_string_value(json_object_get(demo, "path")), "/srv/nt/maildir");
}

static void
test_listen_ipv6_host_and_port(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(
	    f, "v6.json", "{\"listen\": \"[::1]:8080\", \"public_url\": \"http://[::1]:8080\"}\n"));
	assert_int_equal(f->d.n, 0);
	assert_string_equal(f->c->listen_host, "::1");
	assert_string_equal(f->c->listen_port, "8080");
	assert_true(config_listen_is_loopback(f->c));
}

/* The derived URL must be a URL: an IPv6 host keeps its brackets (RFC 3986, 3.2.2). */
static void
test_listen_ipv6_derived_public_url_has_brackets(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "v6url.json", "{\"listen\": \"[::1]:8080\"}\n"));
	assert_string_equal(f->c->public_url, "http://[::1]:8080");
}

/* ---- refused files: one diagnostic per problem, each at file:line:col ---- */

static void
test_unknown_key_one_diag_with_position_and_name(void **state)
{
	struct fx *f = *state;
	load(f, "unknown.json",
	     "{\n"
	     "  \"listen\": \"127.0.0.1:7800\",\n"
	     "  \"max_batch\": 10,    \"colour\": \"blue\"\n"
	     "}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_true(starts_at(f->d.msgs[0], f->path, 3, 23));
	assert_non_null(strstr(f->d.msgs[0], "colour"));
}

static const char durability_text[] = "{\n"
				      "  \"data_dir\": \"/tmp/x\", \"durability\": 1\n"
				      "}\n";

static void
test_durability_integer_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "durability.json", durability_text);
	assert_one_diag_at(f, durability_text, "\"durability\"", "durability");
}

static const char tokens_text[] = "{\n"
				  "\t\"listen\": \"127.0.0.1:7800\",\n"
				  "\t\"api_tokens\": \"x\"\n"
				  "}\n";

static void
test_api_tokens_string_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "tokens.json", tokens_text);
	assert_one_diag_at(f, tokens_text, "\"api_tokens\"", "api_tokens");
}

static const char max_batch_text[] = "{\"durability\": \"full\",\n"
				     "     \"max_batch\": \"10\"}\n";

static void
test_max_batch_string_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "max_batch.json", max_batch_text);
	assert_one_diag_at(f, max_batch_text, "\"max_batch\"", "max_batch");
}

static const char log_level_text[] = "{\n\n  \"log_level\": \"loud\"\n}\n";

static void
test_log_level_unknown_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "log_level.json", log_level_text);
	assert_one_diag_at(f, log_level_text, "\"log_level\"", "log_level");
}

static const char listen_text[] = "{ \"max_batch\": 5, \"listen\": \"nohostport\" }\n";

static void
test_listen_without_port_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "listen.json", listen_text);
	assert_one_diag_at(f, listen_text, "\"listen\"", "listen");
}

static const char channel_text[] = "{\n"
				   "  \"channels\": {\n"
				   "    \"ok\": {\"plugin\": \"smtp\"},\n"
				   "    \"m\": {\"port\": 25}\n"
				   "  }\n"
				   "}\n";

static void
test_channel_without_plugin_refused_at_channel(void **state)
{
	struct fx *f = *state;
	load(f, "channel.json", channel_text);
	assert_one_diag_at(f, channel_text, "\"m\"", "'m'");
	assert_non_null(strstr(f->d.msgs[0], "plugin"));
}

static const char internal_text[] =
    "{\n"
    "  \"channels\": {\n"
    "    \"team\": {\"plugin\": \"smtp\", \"internal\": true, \"to\": \"support@shop.example\"},\n"
    "    \"mail\": {\"plugin\": \"smtp\", \"internal\": false}\n"
    "  }\n"
    "}\n";

/* "internal" and "to" are the host's: parsed, and kept from the plugin's settings. */
static void
test_channel_internal_and_to_parsed(void **state)
{
	struct fx *f = *state;
	load(f, "internal.json", internal_text);
	assert_non_null(f->c);
	const struct channel_conf *t = channel_conf_find(f->c->chans, f->c->n_chans, "team");
	const struct channel_conf *m = channel_conf_find(f->c->chans, f->c->n_chans, "mail");
	assert_non_null(t);
	assert_non_null(m);
	assert_true(t->internal);
	assert_string_equal(t->to, "support@shop.example");
	assert_false(m->internal);
	assert_null(m->to);
	assert_null(json_object_get(t->settings, "internal"));
	assert_null(json_object_get(t->settings, "to"));
	assert_null(channel_conf_find(f->c->chans, f->c->n_chans, "none"));
	/* Once the payload is known: mail needs "to", a JSON channel does not. */
	struct channel_conf bare = *t;
	bare.to = NULL;
	char *why = channel_conf_problem(&bare, NT_PAYLOAD_MIME);
	assert_non_null(why);
	assert_non_null(strstr(why, "'team'"));
	assert_non_null(strstr(why, "'to'"));
	free(why);
	assert_null(channel_conf_problem(&bare, NT_PAYLOAD_JSON));
	assert_null(channel_conf_problem(t, NT_PAYLOAD_MIME));
	assert_null(channel_conf_problem(m, NT_PAYLOAD_MIME));
}

static const char internal_bad_text[] =
    "{\n"
    "  \"channels\": {\"m\": {\"plugin\": \"smtp\", \"internal\": \"yes\"}}\n"
    "}\n";

static void
test_channel_internal_not_boolean_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "internal_bad.json", internal_bad_text);
	assert_one_diag_at(f, internal_bad_text, "\"internal\"", "channels.m.internal");
}

static const char to_alone_text[] =
    "{\n"
    "  \"channels\": {\"m\": {\"plugin\": \"smtp\", \"to\": \"team@shop.example\"}}\n"
    "}\n";

/* "to" on a channel to customers would be a way to mail everyone's messages to one place. */
static void
test_channel_to_without_internal_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "to_alone.json", to_alone_text);
	assert_one_diag_at(f, to_alone_text, "\"to\"", "internal");
}

static const char to_bad_text[] =
    "{\n"
    "  \"channels\": {\"m\": {\"plugin\": \"smtp\", \"internal\": true, \"to\": \"team\"}}\n"
    "}\n";

static void
test_channel_to_not_an_address_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "to_bad.json", to_bad_text);
	assert_one_diag_at(f, to_bad_text, "\"to\"", "channels.m.to");
}

static const char several_text[] = "{\n"
				   "  \"durability\": 1,\n"
				   "  \"api_tokens\": \"x\",\n"
				   "  \"max_batch\": \"10\",\n"
				   "  \"log_level\": \"loud\",\n"
				   "  \"listen\": \"nohostport\",\n"
				   "  \"channels\": {\"m\": {\"port\": 25}},\n"
				   "  \"colour\": \"blue\"\n"
				   "}\n";

/* Each problem gives exactly one diagnostic, at its key, naming it; order is not promised. */
static void
test_several_problems_one_diag_each(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *needle, *name;
	} want[] = {
	    {"\"durability\"", "durability"}, {"\"api_tokens\"", "api_tokens"},
	    {"\"max_batch\"", "max_batch"},   {"\"log_level\"", "log_level"},
	    {"\"listen\"", "listen"},	      {"\"m\"", "'m'"},
	    {"\"colour\"", "colour"},
	};
	load(f, "several.json", several_text);
	assert_null(f->c);
	assert_int_equal(f->d.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int line, col, found = 0;
		pos_of(several_text, want[i].needle, &line, &col);
		for (size_t j = 0; j < f->d.n; j++)
			if (starts_at(f->d.msgs[j], f->path, line, col) &&
			    strstr(f->d.msgs[j], want[i].name) != NULL)
				found++;
		if (found != 1)
			fail_msg("%d diagnostics at %d:%d naming %s, want 1", found, line, col,
				 want[i].name);
	}
}

static void
test_malformed_json_has_jansson_position(void **state)
{
	struct fx *f = *state;
	load(f, "trailing_comma.json",
	     "{\n"
	     "  \"listen\": \"127.0.0.1:7800\",\n"
	     "  \"max_batch\": 10,\n"
	     "}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_true(starts_at(f->d.msgs[0], f->path, 4, 1));
	assert_non_null(strstr(f->d.msgs[0], "expected"));
}

/* Jansson counts a column per character: "é" is one column, though two bytes. */
static void
test_malformed_json_position_after_unicode(void **state)
{
	struct fx *f = *state;
	load(f, "missing_comma.json", "{\"data_dir\": \"/srv/é\" \"b\"}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_true(starts_at(f->d.msgs[0], f->path, 1, 25));
}

static void
test_non_object_root_refused(void **state)
{
	struct fx *f = *state;
	load(f, "array.json", "[1, 2]\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_true(starts_at(f->d.msgs[0], f->path, 1, 1));
}

static void
test_missing_file_refused(void **state)
{
	struct fx *f = *state;
	char missing[PATH_MAX + 64];
	snprintf(missing, sizeof(missing), "%s/does-not-exist.json", tmpdir);
	diag_init(&f->d, missing, NULL);
	f->c = config_load(missing, &f->d);
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_int_equal(strncmp(f->d.msgs[0], missing, strlen(missing)), 0);
}

static void
test_duplicate_key_refused(void **state)
{
	struct fx *f = *state;
	load(f, "dup.json",
	     "{\n"
	     "  \"max_batch\": 10,\n"
	     "  \"max_batch\": 20\n"
	     "}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_true(starts_at(f->d.msgs[0], f->path, 3, 13));
	assert_non_null(strstr(f->d.msgs[0], "duplicate"));
}

static void
test_duplicate_nested_key_refused(void **state)
{
	struct fx *f = *state;
	load(f, "dup_nested.json",
	     "{\"channels\": {\"m\": {\"plugin\": \"a\", \"plugin\": \"b\"}}}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_non_null(strstr(f->d.msgs[0], "duplicate"));
}

/* ---- security minimums ---- */

static const char short_token_text[] = "{\"api_tokens\": [\"0123456789abcdef\",\n"
				       "                \"0123456789abcde\"]}\n";

static void
test_api_token_15_chars_refused_at_element(void **state)
{
	struct fx *f = *state;
	load(f, "short_token.json", short_token_text);
	assert_one_diag_at(f, short_token_text, "\"0123456789abcde\"", "api_tokens[1]");
}

static void
test_api_token_16_chars_accepted(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "token16.json", "{\"api_tokens\": [\"0123456789abcdef\"]}\n"));
	assert_int_equal(f->c->n_api_tokens, 1);
}

static void
test_non_loopback_listen_without_tokens_refused(void **state)
{
	struct fx *f = *state;
	load(f, "open.json", "{\"listen\": \"0.0.0.0:7800\"}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_non_null(strstr(f->d.msgs[0], "api_tokens"));
}

static void
test_non_loopback_listen_with_tokens_accepted(void **state)
{
	struct fx *f = *state;
	assert_non_null(
	    load(f, "open_tokens.json",
		 "{\"listen\": \"192.0.2.7:7800\", \"api_tokens\": [\"0123456789abcdef\"]}\n"));
	assert_false(config_listen_is_loopback(f->c));
}

static void
test_localhost_listen_without_tokens_accepted(void **state)
{
	struct fx *f = *state;
	assert_non_null(load(f, "localhost.json", "{\"listen\": \"localhost:7800\"}\n"));
	assert_true(config_listen_is_loopback(f->c));
}

/* A host name that merely starts with "127." resolves wherever its DNS says. */
static void
test_hostname_starting_with_127_is_not_loopback(void **state)
{
	struct fx *f = *state;
	load(f, "dns127.json", "{\"listen\": \"127.attacker.example:7800\"}\n");
	assert_null(f->c);
	assert_int_equal(f->d.n, 1);
	assert_non_null(strstr(f->d.msgs[0], "api_tokens"));
}

static const char short_secret_text[] = "{\n"
					"  \"secret\": \"0123456789abcdef0123456789abcde\"\n"
					"}\n";

static void
test_secret_31_chars_refused_at_key(void **state)
{
	struct fx *f = *state;
	load(f, "short_secret.json", short_secret_text);
	assert_one_diag_at(f, short_secret_text, "\"secret\"", "secret");
}

static void
test_secret_32_chars_accepted(void **state)
{
	struct fx *f = *state;
	assert_non_null(
	    load(f, "secret32.json", "{\"secret\": \"0123456789abcdef0123456789abcdef\"}\n"));
	assert_string_equal(f->c->secret, "0123456789abcdef0123456789abcdef");
}

/* ---- jsonpos ---- */

/* Lines 2 to 5 start with tabs; "ü" and "ï" are two bytes each. */
static const char pos_text[] = "{\n"
			       "\t\"a\": {\n"
			       "\t\t\"b\": [\n"
			       "\t\t\t{\"c\": 1},\n"
			       "\t\t\t{\"x\": \"ünï\", \"c\": [10,\t20]}\n"
			       "\t\t]\n"
			       "\t},\n"
			       "\t\"ü\": {\"k\": true}, \"z\": null\n"
			       "}\n";

static void
assert_pos(const struct jsonpos *jp, const char *path, int line, int col)
{
	int l = -1, c = -1;
	if (jsonpos_lookup(jp, path, &l, &c) != 0)
		fail_msg("path %s not found", path);
	if (l != line || c != col)
		fail_msg("%s at %d:%d, want %d:%d", path, l, c, line, col);
}

static void
test_jsonpos_root_at_1_1(void **state)
{
	struct fx *f = *state;
	f->jp = jsonpos_scan(pos_text);
	assert_pos(f->jp, "", 1, 1);
}

static void
test_jsonpos_nested_keys_and_array_elements(void **state)
{
	struct fx *f = *state;
	f->jp = jsonpos_scan(pos_text);
	assert_pos(f->jp, "a", 2, 2);
	assert_pos(f->jp, "a.b", 3, 3);
	assert_pos(f->jp, "a.b[0]", 4, 4);
	assert_pos(f->jp, "a.b[0].c", 4, 5);
	assert_pos(f->jp, "a.b[1]", 5, 4);
	assert_pos(f->jp, "a.b[1].x", 5, 5);
	assert_pos(f->jp, "ü", 8, 2);
}

/*
 * Columns after a multi-byte character count characters, as Jansson's syntax errors do, so that
 * one file's diagnostics agree with each other and with an editor.
 */
static void
test_jsonpos_columns_after_unicode_count_characters(void **state)
{
	struct fx *f = *state;
	f->jp = jsonpos_scan(pos_text);
	assert_pos(f->jp, "a.b[1].c", 5, 17);
	assert_pos(f->jp, "a.b[1].c[1]", 5, 27);
	assert_pos(f->jp, "ü.k", 8, 8);
	assert_pos(f->jp, "z", 8, 20);
}

static void
test_jsonpos_skips_escaped_quotes_in_strings(void **state)
{
	struct fx *f = *state;
	f->jp = jsonpos_scan("{\"s\": \"say \\\"}\\\" [\", \"t\": {\"u\": 1}}");
	assert_pos(f->jp, "t", 1, 22);
	assert_pos(f->jp, "t.u", 1, 28);
}

static void
test_jsonpos_missing_path_returns_minus_one(void **state)
{
	struct fx *f = *state;
	int line = 99, col = 99;
	f->jp = jsonpos_scan(pos_text);
	assert_int_equal(jsonpos_lookup(f->jp, "a.b[2]", &line, &col), -1);
	assert_int_equal(jsonpos_lookup(f->jp, "a.c", &line, &col), -1);
	assert_int_equal(jsonpos_lookup(f->jp, "b", &line, &col), -1);
	assert_int_equal(jsonpos_lookup(f->jp, "a.b[1].c[2]", &line, &col), -1);
	assert_int_equal(jsonpos_lookup(NULL, "a", &line, &col), -1);
	assert_int_equal(line, 99);
	assert_int_equal(col, 99);
}

/* ---- issue 16: what comes back ---- */

static void
test_inbound_keys_parse(void **state)
{
	struct fx *f = *state;
	const char *text = "{\"bounce_address\": \"bounces@shop.example\", \"reply_to\": "
			   "\"reply@shop.example\", \"bounce_policy\": {\"soft_bounces\": 5, "
			   "\"within\": \"7d\"}, \"inbound\": {\"imap\": {\"url\": "
			   "\"imaps://imap.example/INBOX\", \"user\": \"u\", \"password\": \"p\", "
			   "\"interval\": \"2m\", \"after\": \"move:Done\"}}, \"webhooks\": "
			   "{\"mailgun\": {\"signing_key\": \"k\"}}}";
	struct config *c = load(f, "inbound.json", text);
	assert_non_null(c);
	assert_string_equal(c->inbound.bounce_address, "bounces@shop.example");
	assert_string_equal(c->inbound.reply_to, "reply@shop.example");
	assert_int_equal(c->inbound.soft_max, 5);
	assert_int_equal(c->inbound.soft_window_ms, 7LL * 86400000);
	assert_string_equal(c->inbound.imap_url, "imaps://imap.example/INBOX");
	assert_int_equal(c->inbound.imap_interval_ms, 120000);
	assert_string_equal(c->inbound.imap_move_to, "Done");
	assert_string_equal(c->inbound.mailgun_key, "k");
}

static void
test_inbound_defaults(void **state)
{
	struct fx *f = *state;
	struct config *c = load(f, "empty.json", "{}");
	assert_non_null(c);
	assert_null(c->inbound.bounce_address);
	assert_int_equal(c->inbound.soft_max, 3);
	assert_int_equal(c->inbound.soft_window_ms, 30LL * 86400000);
	assert_null(c->inbound.imap_url);
}

static void
test_bounce_address_with_plus_refused_at_key(void **state)
{
	struct fx *f = *state;
	const char *text = "{\n  \"bounce_address\": \"bounces+x@shop.example\"\n}";
	load(f, "plus.json", text);
	assert_one_diag_at(f, text, "\"bounce_address\"", "bounce_address");
}

static void
test_imap_after_refused_at_key(void **state)
{
	struct fx *f = *state;
	const char *text = "{\"inbound\": {\"imap\": {\"url\": \"imaps://h/INBOX\", "
			   "\"after\": \"keep\"}}}";
	load(f, "after.json", text);
	assert_one_diag_at(f, text, "\"after\"", "inbound.imap.after");
}

static void
test_webhook_unknown_key_refused_at_key(void **state)
{
	struct fx *f = *state;
	const char *text = "{\"webhooks\": {\"ses\": {\"cert\": \"x.pem\"}}}";
	load(f, "hooks.json", text);
	assert_one_diag_at(f, text, "\"cert\"", "webhooks.ses.cert");
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_defaults_listen_on_loopback_7800),
	    T(test_defaults_durability_full),
	    T(test_defaults_limits),
	    T(test_defaults_public_url_derived_from_listen),
	    T(test_defaults_have_no_file_tokens_secret_and_maildir_channels),
	    T(test_full_file_sets_strings),
	    T(test_full_file_sets_tokens),
	    T(test_full_file_sets_numbers_and_enums),
	    T(test_full_file_sets_channels),
	    T(test_listen_ipv6_host_and_port),
	    T(test_listen_ipv6_derived_public_url_has_brackets),
	    T(test_unknown_key_one_diag_with_position_and_name),
	    T(test_durability_integer_refused_at_key),
	    T(test_api_tokens_string_refused_at_key),
	    T(test_max_batch_string_refused_at_key),
	    T(test_log_level_unknown_refused_at_key),
	    T(test_listen_without_port_refused_at_key),
	    T(test_channel_without_plugin_refused_at_channel),
	    T(test_channel_internal_and_to_parsed),
	    T(test_channel_internal_not_boolean_refused_at_key),
	    T(test_channel_to_without_internal_refused_at_key),
	    T(test_channel_to_not_an_address_refused_at_key),
	    T(test_several_problems_one_diag_each),
	    T(test_malformed_json_has_jansson_position),
	    T(test_malformed_json_position_after_unicode),
	    T(test_non_object_root_refused),
	    T(test_missing_file_refused),
	    T(test_duplicate_key_refused),
	    T(test_duplicate_nested_key_refused),
	    T(test_api_token_15_chars_refused_at_element),
	    T(test_api_token_16_chars_accepted),
	    T(test_non_loopback_listen_without_tokens_refused),
	    T(test_inbound_keys_parse),
	    T(test_inbound_defaults),
	    T(test_bounce_address_with_plus_refused_at_key),
	    T(test_imap_after_refused_at_key),
	    T(test_webhook_unknown_key_refused_at_key),
	    T(test_non_loopback_listen_with_tokens_accepted),
	    T(test_localhost_listen_without_tokens_accepted),
	    T(test_hostname_starting_with_127_is_not_loopback),
	    T(test_secret_31_chars_refused_at_key),
	    T(test_secret_32_chars_accepted),
	    T(test_jsonpos_root_at_1_1),
	    T(test_jsonpos_nested_keys_and_array_elements),
	    T(test_jsonpos_columns_after_unicode_count_characters),
	    T(test_jsonpos_skips_escaped_quotes_in_strings),
	    T(test_jsonpos_missing_path_returns_minus_one),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
