#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Root is kept only when asked for, or where nothing but this host can reach the daemon. */
int
privdrop_choose(const char *user, int loopback, const char **target, char *err, size_t len)
{
	*target = NULL;
	if (user != NULL) {
		if (strcmp(user, "root") == 0)
			return 0;
		if (geteuid() != 0) {
			struct passwd *pw = getpwnam(user);
			if (pw != NULL && pw->pw_uid == geteuid())
				return 0;
			snprintf(err, len,
				 "key 'user' is '%s', but nurtured runs as uid %u, without root to "
				 "become it",
				 user, (unsigned)geteuid());
			return -1;
		}
		*target = user;
		return 0;
	}
	if (geteuid() != 0)
		return 0;
	if (getpwnam("nurtured") != NULL) {
		*target = "nurtured";
		return 0;
	}
	if (loopback) {
		log_warnx("running as root: set key 'user' to the account to run as "
			  "(\"root\" to keep root and silence this)");
		return 0;
	}
	snprintf(err, len,
		 "refusing to run as root on a non-loopback address: set key 'user' to the "
		 "account to run as (\"root\" to keep root)");
	return -1;
}

/* nftw has no user argument: the ids of the one tree being chowned. */
static uid_t privdrop_uid;
static gid_t privdrop_gid;
static int privdrop_errno;

/* Symbolic links are not followed (FTW_PHYS) and changed themselves, never their targets. */
static int
privdrop_chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (st->st_uid == privdrop_uid && st->st_gid == privdrop_gid)
		return 0;
	if (lchown(path, privdrop_uid, privdrop_gid) < 0) {
		privdrop_errno = errno;
		log_warn("chown %s", path);
		return 1;
	}
	return 0;
}

/* A chown of everything below a directory like /var/lib would be a disaster: only an empty one
 * or one that holds a store is taken. */
static int
privdrop_dir_is_ours(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int entries = 0, store = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		entries++;
		if (strcmp(e->d_name, "nurtured.db") == 0 || strcmp(e->d_name, PRIVDROP_MARK) == 0)
			store = 1;
	}
	closedir(d);
	return strcmp(dir, "/") != 0 && (entries == 0 || store);
}

/* The marker of a data_dir whose store is elsewhere (PostgreSQL): nurtured made it. */
int
privdrop_mark_dir(const char *dir)
{
	char *path = xasprintf("%s/" PRIVDROP_MARK, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* The store, the secret and the default maildirs must stay writable after the drop. */
int
privdrop_chown_tree(const char *dir, const char *user, char *err, size_t len)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		snprintf(err, len, "key 'user': no such user '%s'", user);
		return -1;
	}
	if (util_mkdirs(dir, 0700) < 0) {
		snprintf(err, len, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!privdrop_dir_is_ours(dir)) {
		snprintf(err, len,
			 "key 'data_dir': %s holds files but no nurtured.db (nor " PRIVDROP_MARK
			 "); refusing to give it "
			 "all to user '%s'",
			 dir, user);
		return -1;
	}
	privdrop_uid = pw->pw_uid;
	privdrop_gid = pw->pw_gid;
	privdrop_errno = 0;
	if (nftw(dir, privdrop_chown_one, 16, FTW_PHYS | FTW_MOUNT) != 0) {
		snprintf(err, len, "cannot give %s to user '%s': %s", dir, user,
			 strerror(privdrop_errno ? privdrop_errno : errno));
		return -1;
	}
	return 0;
}

/* Each id the kernel keeps must be the target's, and root must stay out of reach. */
static void
privdrop_verify(uid_t uid, gid_t gid)
{
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx("privdrop: could regain root after dropping to uid %u", (unsigned)uid);
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		fatalx("privdrop: ids are %u/%u:%u/%u, not %u:%u", (unsigned)getuid(),
		       (unsigned)geteuid(), (unsigned)getgid(), (unsigned)getegid(), (unsigned)uid,
		       (unsigned)gid);
	if (gid != 0 && (setgid(0) == 0 || setegid(0) == 0))
		fatalx("privdrop: could regain group root after dropping to gid %u", (unsigned)gid);
	int n = getgroups(0, NULL);
	gid_t *groups = xcalloc(n > 0 ? (size_t)n : 1, sizeof(gid_t));
	n = getgroups(n, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == 0 && gid != 0)
			fatalx("privdrop: still in group root");
	free(groups);
}

/* Groups first, then the gid, then the uid: after setuid the others can no longer change. */
int
privdrop_to(const char *user, char *err, size_t len)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		snprintf(err, len, "key 'user': no such user '%s'", user);
		return -1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (initgroups(user, gid) < 0) {
		snprintf(err, len, "initgroups %s: %s", user, strerror(errno));
		return -1;
	}
	if (setgid(gid) < 0 || setuid(uid) < 0) {
		snprintf(err, len, "cannot become %s (%u:%u): %s", user, (unsigned)uid,
			 (unsigned)gid, strerror(errno));
		return -1;
	}
	privdrop_verify(uid, gid);
	log_info("running as %s (%u:%u)", user, (unsigned)uid, (unsigned)gid);
	return 0;
}

/* Ports below 1024 would need the bind before the drop, which http_start does not split. */
int
privdrop_daemon(const struct config *c, char *err, size_t len)
{
	const char *user;

	if (privdrop_choose(c->user, config_listen_is_loopback(c), &user, err, len) < 0)
		return -1;
	if (user == NULL)
		return 0;
	if (atoi(c->listen_port) < 1024) {
		snprintf(err, len,
			 "key 'listen': port %s needs root, and nurtured drops to user '%s'; use a "
			 "port from 1024 (behind a proxy) or \"user\": \"root\"",
			 c->listen_port, user);
		return -1;
	}
	if (privdrop_chown_tree(c->data_dir, user, err, len) < 0)
		return -1;
	return privdrop_to(user, err, len);
}
