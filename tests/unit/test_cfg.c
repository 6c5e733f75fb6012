/* test_cfg.c — config loading: defaults, strict keys and types, rooms, secrets, diff, docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"

/* Repository root: DAZ_ROOT from the environment or the build, else derived from __FILE__. */
static const char *repo_root(void)
{
	const char *env = getenv("DAZ_ROOT");
	if (env && *env)
		return env;
#ifdef DAZ_ROOT
	return DAZ_ROOT;
#else
	static char root[4096];
	snprintf(root, sizeof(root), "%s", __FILE__);
	char *p = strstr(root, "tests/unit/test_cfg.c");
	if (p == root)
		return ".";
	if (p)
		p[-1] = '\0';
	return root;
#endif
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char err[512];

/* Parse text; expect failure with an error starting with want. */
static void expect_error(const char *text, const char *want)
{
	struct cfg *c = (struct cfg *)1;
	int rc = cfg_parse(text, strlen(text), &c, err, sizeof(err));
	if (rc == 0 || strncmp(err, want, strlen(want)) != 0)
		fail_msg("config %s\n  expected error starting with \"%s\"\n  got rc=%d \"%s\"",
		         text, want, rc, err);
	assert_null(c);
}

static struct cfg *parse_ok(const char *text)
{
	struct cfg *c = NULL;
	if (cfg_parse(text, strlen(text), &c, err, sizeof(err)) != 0)
		fail_msg("config %s\n  unexpected error: %s", text, err);
	return c;
}

#define ROOM(extra) "{\"rooms\":[{\"channel\":\"botchan\",\"username\":\"TestBot\"" extra "}]}"

static void test_cfg_empty_object_gives_defaults(void **state)
{
	(void)state;
	struct cfg *c = parse_ok("{}");
	assert_string_equal(c->db_conninfo, "");
	assert_string_equal(c->http_listen, "127.0.0.1:9187");
	assert_string_equal(c->spool_dir, "var/spool");
	assert_int_equal(c->spool_max_bytes, 256LL * 1024 * 1024);
	assert_int_equal(c->ingest_batch_max, 500);
	assert_int_equal(c->ingest_flush_ms, 50);
	assert_int_equal(c->ingest_buffer_max, 50000);
	assert_int_equal(c->ingest_buffer_max_bytes, 8LL * 1024 * 1024);
	assert_int_equal(c->log_level, CFG_LOG_INFO);
	assert_int_equal(c->log_format, CFG_LOG_TEXT);
	assert_int_equal(c->outbound_poll_ms, 2000);
	assert_int_equal(c->outbound_confirm_ms, 3000);
	assert_int_equal(c->lease_s, 30);
	assert_int_equal(c->n_rooms, 0);
	assert_int_equal(c->n_warnings, 0);
	char want[300];
	char host[256];
	gethostname(host, sizeof(host));
	snprintf(want, sizeof(want), "%s:%d", host, (int)getpid());
	assert_string_equal(c->worker_name, want);
	cfg_free(c);
	cfg_free(NULL);
}

static void test_cfg_room_defaults_and_key(void **state)
{
	(void)state;
	struct cfg *c = parse_ok(ROOM(""));
	assert_int_equal(c->n_rooms, 1);
	struct cfg_room *r = &c->rooms[0];
	assert_string_equal(r->key, "botchan");
	assert_null(r->name);
	assert_string_equal(r->site, "https://cytu.be");
	assert_true(r->enabled);
	assert_null(r->password); /* guest */
	assert_true(r->pacing.burst == 4 && r->pacing.per_second == 1);
	assert_int_equal(r->pacing.max_len, 320);
	assert_ptr_equal(cfg_room_find(c, "botchan"), r);
	assert_null(cfg_room_find(c, "other"));
	cfg_free(c);

	c = parse_ok(ROOM(",\"name\":\"Lobby 1\",\"site\":\"http://127.0.0.1:8880/\","
	                  "\"password\":\"pw\",\"pacing\":{\"burst\":20,\"per_second\":0,"
	                  "\"max_len\":1000}"));
	r = &c->rooms[0];
	assert_string_equal(r->key, "Lobby 1");
	assert_string_equal(r->site, "http://127.0.0.1:8880");
	assert_string_equal(r->password, "pw");
	assert_true(r->pacing.burst == 20 && r->pacing.per_second == 0);
	assert_int_equal(r->pacing.max_len, 1000);
	cfg_free(c);
}

static void test_cfg_unknown_keys_are_named(void **state)
{
	(void)state;
	expect_error("{\"databse\":{}}", "databse: unknown key");
	expect_error("{\"database\":{\"conninf\":\"x\"}}", "database.conninf: unknown key");
	expect_error("{\"rooms\":[{\"channel\":\"a\",\"username\":\"b\"},{\"channel\":\"c\","
	             "\"username\":\"d\",\"pasword\":\"x\"}]}",
	             "rooms[1].pasword: unknown key");
	expect_error(ROOM(",\"pacing\":{\"rate\":1}"), "rooms[0].pacing.rate: unknown key");
	expect_error("{\"bot\":{\"prefix\":\"!\"}}", "bot: unknown key");
}

static void test_cfg_wrong_types_are_named(void **state)
{
	(void)state;
	expect_error("{\"ingest\":{\"batch_max\":\"500\"}}",
	             "ingest.batch_max: expected an integer, got string");
	expect_error("{\"ingest\":{\"batch_max\":500.0}}",
	             "ingest.batch_max: expected an integer, got number");
	expect_error("{\"lease_s\":true}", "lease_s: expected an integer, got boolean");
	expect_error("{\"http\":[]}", "http: expected an object, got array");
	expect_error("{\"http\":{\"listen\":9187}}", "http.listen: expected a string, got integer");
	expect_error("{\"rooms\":{}}", "rooms: expected an array, got object");
	expect_error("{\"rooms\":[\"botchan\"]}", "rooms[0]: expected an object, got string");
	expect_error(ROOM(",\"enabled\":\"yes\""), "rooms[0].enabled: expected true or false");
	expect_error(ROOM(",\"pacing\":{\"burst\":\"4\"}"),
	             "rooms[0].pacing.burst: expected a number, got string");
	expect_error(ROOM(",\"pacing\":[]"), "rooms[0].pacing: expected an object, got array");
	expect_error("[]", "(top level): expected an object, got array");
	expect_error("{\"log\":{\"level\":null}}", "log.level: expected a string, got null");
}

static void test_cfg_ranges_and_enums(void **state)
{
	(void)state;
	expect_error("{\"ingest\":{\"batch_max\":0}}", "ingest.batch_max: out of range (1..10000)");
	expect_error("{\"ingest\":{\"flush_ms\":99999999999999999999}}", "ingest.flush_ms: ");
	expect_error("{\"lease_s\":4}", "lease_s: out of range (5..3600)");
	expect_error("{\"spool\":{\"max_bytes\":1000}}", "spool.max_bytes: out of range");
	expect_error("{\"ingest\":{\"buffer_max_bytes\":1000}}",
	             "ingest.buffer_max_bytes: out of range");
	expect_error("{\"ingest\":{\"batch_max\":1000,\"buffer_max\":500}}",
	             "ingest.buffer_max: smaller than ingest.batch_max");
	expect_error("{\"log\":{\"level\":\"verbose\"}}", "log.level: \"verbose\" is not one of");
	expect_error("{\"log\":{\"format\":\"xml\"}}", "log.format: \"xml\" is not one of");
	expect_error(ROOM(",\"pacing\":{\"max_len\":7}"), "rooms[0].pacing.max_len: out of range");
	expect_error(ROOM(",\"pacing\":{\"per_second\":-1}"),
	             "rooms[0].pacing.per_second: out of range");
	expect_error("{\"worker\":{\"name\":\"\"}}", "worker.name: must not be empty");
	expect_error("{\"spool\":{\"dir\":\"\"}}", "spool.dir: must not be empty");
	struct cfg *c = parse_ok("{\"log\":{\"level\":\"debug\",\"format\":\"json\"}}");
	assert_int_equal(c->log_level, CFG_LOG_DEBUG);
	assert_int_equal(c->log_format, CFG_LOG_JSON);
	assert_string_equal(cfg_log_level_name(c->log_level), "debug");
	assert_string_equal(cfg_log_format_name(c->log_format), "json");
	cfg_free(c);
}

static void test_cfg_http_listen_forms(void **state)
{
	(void)state;
	const char *good[] = {"127.0.0.1:9187", "[::1]:9187", "localhost:80",
	                      "127.0.0.1:0",    "off",        ""};
	const char *bad[] = {"127.0.0.1", "127.0.0.1:99999", ":9187", "a b:1", "[::1]", "host:x"};
	char text[200];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "{\"http\":{\"listen\":\"%s\"}}", good[i]);
		cfg_free(parse_ok(text));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"http\":{\"listen\":\"%s\"}}", bad[i]);
		expect_error(text, "http.listen: ");
	}
}

static void test_cfg_channel_username_and_site_are_validated(void **state)
{
	(void)state;
	expect_error("{\"rooms\":[{\"channel\":\"bad.name\",\"username\":\"b\"}]}",
	             "rooms[0].channel: \"bad.name\" is not a CyTube channel name");
	expect_error("{\"rooms\":[{\"channel\":\"a234567890123456789012345678901\","
	             "\"username\":\"b\"}]}",
	             "rooms[0].channel: ");
	expect_error("{\"rooms\":[{\"username\":\"b\"}]}", "rooms[0].channel: missing (required)");
	expect_error("{\"rooms\":[{\"channel\":\"a\"}]}", "rooms[0].username: missing (required)");
	expect_error("{\"rooms\":[{\"channel\":\"a\",\"username\":\"bad name!\"}]}",
	             "rooms[0].username: ");
	expect_error(ROOM(",\"site\":\"ftp://cytu.be\""), "rooms[0].site: ");
	expect_error(ROOM(",\"site\":\"https://cytu.be/r/x\""), "rooms[0].site: ");
	expect_error(ROOM(",\"site\":\"https://\""), "rooms[0].site: ");
	expect_error(ROOM(",\"site\":\"https://cytu.be:0\""), "rooms[0].site: ");
	expect_error(ROOM(",\"name\":\"\""), "rooms[0].name: must not be empty");
	expect_error(ROOM(",\"name\":\"a\\nb\""), "rooms[0].name: contains control characters");
	cfg_free(parse_ok(ROOM(",\"site\":\"https://[::1]:8443\"")));
	cfg_free(parse_ok("{\"rooms\":[{\"channel\":\"a-b_C9\",\"username\":\"x\"}]}"));
}

static void test_cfg_duplicate_rooms_are_refused(void **state)
{
	(void)state;
	expect_error("{\"rooms\":[{\"channel\":\"a\",\"username\":\"b\"},"
	             "{\"channel\":\"a\",\"username\":\"c\"}]}",
	             "rooms[1]: duplicate room \"a\" (also rooms[0])");
	expect_error("{\"rooms\":[{\"channel\":\"a\",\"username\":\"b\"},"
	             "{\"name\":\"a2\",\"channel\":\"A\",\"username\":\"B\"}]}",
	             "rooms[1]: same site, channel and username as rooms[0]");
	struct cfg *c = parse_ok("{\"rooms\":[{\"channel\":\"a\",\"username\":\"b\"},"
	                         "{\"name\":\"a2\",\"channel\":\"a\",\"username\":\"b\","
	                         "\"site\":\"http://127.0.0.1:1\"}]}");
	assert_int_equal(c->n_rooms, 2);
	cfg_free(c);
}

static void test_cfg_password_sources(void **state)
{
	(void)state;
	expect_error(ROOM(",\"password\":\"a\",\"password_env\":\"X\""),
	             "rooms[0]: give at most one of password, password_env, password_file");
	unsetenv("DAZ_TEST_PW_UNSET");
	expect_error(ROOM(",\"password_env\":\"DAZ_TEST_PW_UNSET\""),
	             "rooms[0].password_env: environment variable DAZ_TEST_PW_UNSET is not set");
	setenv("DAZ_TEST_PW", "s3cret-env", 1);
	struct cfg *c = parse_ok(ROOM(",\"password_env\":\"DAZ_TEST_PW\""));
	assert_string_equal(c->rooms[0].password, "s3cret-env");
	assert_string_equal(c->rooms[0].password_env, "DAZ_TEST_PW");
	cfg_free(c);
	/* a disabled room does not need its secret yet */
	c = parse_ok(ROOM(",\"password_env\":\"DAZ_TEST_PW_UNSET\",\"enabled\":false"));
	assert_false(c->rooms[0].enabled);
	assert_null(c->rooms[0].password);
	cfg_free(c);
}

static void test_cfg_password_file_and_world_readable_warning(void **state)
{
	(void)state;
	char dir[] = "/tmp/daz-test-cfg-XXXXXX", path[300], text[600];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	FILE *f = fopen(path, "w");
	fputs("file-secret\r\n", f);
	fclose(f);
	chmod(path, 0600);
	snprintf(text, sizeof(text), ROOM(",\"password_file\":\"%s\""), path);
	struct cfg *c = parse_ok(text);
	assert_string_equal(c->rooms[0].password, "file-secret");
	assert_int_equal(c->n_warnings, 0);
	cfg_free(c);
	chmod(path, 0644);
	c = parse_ok(text);
	assert_int_equal(c->n_warnings, 1);
	assert_non_null(strstr(c->warnings[0], "rooms[0].password_file: "));
	assert_non_null(strstr(c->warnings[0], "readable by every user"));
	assert_null(strstr(c->warnings[0], "file-secret"));
	cfg_free(c);
	/* empty and missing files are errors */
	f = fopen(path, "w");
	fputs("\n", f);
	fclose(f);
	expect_error(text, "rooms[0].password_file: ");
	assert_non_null(strstr(err, "is empty"));
	unlink(path);
	expect_error(text, "rooms[0].password_file: cannot open");
	snprintf(text, sizeof(text), ROOM(",\"tls_ca_file\":\"%s/missing.pem\""), dir);
	expect_error(text, "rooms[0].tls_ca_file: cannot read");
	rmdir(dir);
}

static void test_cfg_invalid_json_names_the_line(void **state)
{
	(void)state;
	expect_error("{\n\"database\": {\n\"conninfo\": \"x\",\n}\n}",
	             "(file): invalid JSON at line");
	expect_error("{\"a\":1} {\"b\":2}", "(file): invalid JSON");
	expect_error("", "(file): invalid JSON");
	expect_error("{\"rooms\":[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]}",
	             "(file): invalid JSON");
	struct cfg *c = parse_ok("  {}  \n");
	cfg_free(c);
}

static void test_cfg_summary_never_shows_secrets(void **state)
{
	(void)state;
	char buf[4096];
	setenv("DAZ_TEST_PW", "s3cret-env", 1);
	struct cfg *c = parse_ok(
	    "{\"database\":{\"conninfo\":\"host=db password='p w\\\\'d' user=daz\"},"
	    "\"rooms\":[{\"channel\":\"a\",\"username\":\"b\",\"password\":\"inline-secret\"},"
	    "{\"channel\":\"c\",\"username\":\"d\",\"password_env\":\"DAZ_TEST_PW\"},"
	    "{\"channel\":\"e\",\"username\":\"f\"}]}");
	size_t n = cfg_summary(c, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_null(strstr(buf, "inline-secret"));
	assert_null(strstr(buf, "s3cret-env"));
	assert_null(strstr(buf, "p w"));
	assert_non_null(strstr(buf, "host=db password=*** user=daz"));
	assert_non_null(strstr(buf, "password (set, in the config)"));
	assert_non_null(strstr(buf, "password from password_env DAZ_TEST_PW"));
	assert_non_null(strstr(buf, "guest login"));
	/* a short buffer is cut, terminated, and the needed length returned */
	char small[16];
	assert_int_equal(cfg_summary(c, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	cfg_free(c);

	c = parse_ok("{\"database\":{\"conninfo\":"
	             "\"postgresql://daz:hunter2@db:5432/daz?sslmode=require&password=x2\"}}");
	cfg_summary(c, buf, sizeof(buf));
	assert_null(strstr(buf, "hunter2"));
	assert_null(strstr(buf, "x2"));
	assert_non_null(
	    strstr(buf, "postgresql://daz:***@db:5432/daz?sslmode=require&password=***"));
	cfg_free(c);
}

static void test_cfg_diff_reports_added_removed_changed_and_pacing(void **state)
{
	(void)state;
	struct cfg *a = parse_ok("{\"http\":{\"listen\":\"127.0.0.1:1\"},\"rooms\":["
	                         "{\"channel\":\"same\",\"username\":\"u\"},"
	                         "{\"channel\":\"gone\",\"username\":\"u\"},"
	                         "{\"channel\":\"moved\",\"username\":\"u\"},"
	                         "{\"channel\":\"paced\",\"username\":\"u\"},"
	                         "{\"channel\":\"off\",\"username\":\"u\"}]}");
	struct cfg *b = parse_ok(
	    "{\"http\":{\"listen\":\"127.0.0.1:2\"},\"rooms\":["
	    "{\"channel\":\"same\",\"username\":\"u\"},"
	    "{\"channel\":\"moved\",\"username\":\"u\",\"site\":\"http://127.0.0.1:8880\"},"
	    "{\"channel\":\"paced\",\"username\":\"u\",\"pacing\":{\"burst\":2}},"
	    "{\"channel\":\"off\",\"username\":\"u\",\"enabled\":false},"
	    "{\"channel\":\"new\",\"username\":\"u\"}]}");
	struct cfg_room_diff *d;
	size_t n;
	unsigned global;
	assert_int_equal(cfg_diff(a, b, &d, &n, &global), 0);
	assert_int_equal(global, CFG_DIFF_HTTP);
	assert_int_equal(n, 5);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(d[i].key, "gone")) {
			assert_int_equal(d[i].change, CFG_ROOM_REMOVED);
			assert_null(d[i].new_room);
			seen |= 1;
		} else if (!strcmp(d[i].key, "moved")) {
			assert_int_equal(d[i].change, CFG_ROOM_CHANGED);
			assert_string_equal(d[i].new_room->site, "http://127.0.0.1:8880");
			seen |= 2;
		} else if (!strcmp(d[i].key, "paced")) {
			assert_int_equal(d[i].change, CFG_ROOM_PACING);
			seen |= 4;
		} else if (!strcmp(d[i].key, "off")) {
			assert_int_equal(d[i].change, CFG_ROOM_CHANGED);
			seen |= 8;
		} else if (!strcmp(d[i].key, "new")) {
			assert_int_equal(d[i].change, CFG_ROOM_ADDED);
			assert_null(d[i].old_room);
			seen |= 16;
		} else {
			fail_msg("unexpected diff entry %s", d[i].key);
		}
	}
	assert_int_equal(seen, 31);
	free(d);
	/* identical configs: nothing */
	assert_int_equal(cfg_diff(a, a, &d, &n, &global), 0);
	assert_int_equal(n, 0);
	assert_int_equal(global, 0);
	free(d);
	cfg_free(a);
	cfg_free(b);
}

static void test_cfg_example_file_is_valid(void **state)
{
	(void)state;
	char path[4200];
	struct cfg *c;
	snprintf(path, sizeof(path), "%s/config/dazd.example.json", repo_root());
	if (cfg_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(c->n_rooms >= 1);
	assert_string_equal(c->path, path);
	cfg_free(c);
	assert_int_equal(cfg_load("/nonexistent/dazd.json", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dazd.json: cannot open"));
	assert_int_equal(cfg_load("/tmp", &c, err, sizeof(err)), -1);
}

static void test_cfg_every_known_key_is_documented(void **state)
{
	(void)state;
	char path[4200];
	snprintf(path, sizeof(path), "%s/docs/config.md", repo_root());
	char *doc = slurp(path);
	if (!doc)
		fail_msg("cannot read %s (set DAZ_ROOT)", path);
	int n = 0;
	for (const char *const *k = cfg_known_keys; *k; k++, n++) {
		char quoted[200];
		snprintf(quoted, sizeof(quoted), "`%s`", *k);
		if (!strstr(doc, quoted))
			fail_msg("docs/config.md does not document key %s", *k);
	}
	assert_true(n >= 30);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cfg_empty_object_gives_defaults),
	    cmocka_unit_test(test_cfg_room_defaults_and_key),
	    cmocka_unit_test(test_cfg_unknown_keys_are_named),
	    cmocka_unit_test(test_cfg_wrong_types_are_named),
	    cmocka_unit_test(test_cfg_ranges_and_enums),
	    cmocka_unit_test(test_cfg_http_listen_forms),
	    cmocka_unit_test(test_cfg_channel_username_and_site_are_validated),
	    cmocka_unit_test(test_cfg_duplicate_rooms_are_refused),
	    cmocka_unit_test(test_cfg_password_sources),
	    cmocka_unit_test(test_cfg_password_file_and_world_readable_warning),
	    cmocka_unit_test(test_cfg_invalid_json_names_the_line),
	    cmocka_unit_test(test_cfg_summary_never_shows_secrets),
	    cmocka_unit_test(test_cfg_diff_reports_added_removed_changed_and_pacing),
	    cmocka_unit_test(test_cfg_example_file_is_valid),
	    cmocka_unit_test(test_cfg_every_known_key_is_documented),
	};
	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
