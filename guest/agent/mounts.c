#include "mounts.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol.h"

/*
 * With `p`, an overlay's upperdir= and workdir= are created too: they live in
 * a fresh tmpfs the host just mounted, and the host cannot mkdir in the guest.
 */
static int mkdir_overlay_dirs(const char *data)
{
	static const char *const keys[] = { "upperdir=", "workdir=" };
	char path[PATH_MAX];

	for (size_t k = 0; data && k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *at = strstr(data, keys[k]);
		if (!at || (at != data && at[-1] != ','))
			continue;
		at += strlen(keys[k]);
		size_t n = strcspn(at, ",");
		if (n == 0 || n >= sizeof(path))
			return -EINVAL;
		memcpy(path, at, n);
		path[n] = 0;
		int r = mkdir_p(path);
		if (r < 0)
			return r;
	}
	return 0;
}

static void reply(struct agent *ag, uint32_t id, int r, const char *what, const char *target)
{
	if (r < 0)
		channel_send_error(&ag->ch, id, errno_name(-r), "%s %s: %s", what, target, strerror(-r));
	else
		channel_send(&ag->ch, BR_OK, id, NULL, 0);
}

void mounts_mount(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len)
{
	const char *src = "none", *target = NULL, *fstype = NULL, *data = NULL, *v;
	int mkdirs = 0, r = 0;
	uint32_t pos = 0;
	char tag;

	if (tags_valid(p, len) < 0) {
		channel_send_error(&ag->ch, id, "EINVAL", "MOUNT: unterminated tag");
		return;
	}
	while (tags_next(p, len, &pos, &tag, &v)) {
		switch (tag) {
		case 's': src = v; break;
		case 't': target = v; break;
		case 'f': fstype = v; break;
		case 'o': data = v; break;
		case 'p': mkdirs = 1; break;
		}
	}
	if (!target || !*target || !fstype) {
		channel_send_error(&ag->ch, id, "EINVAL", "MOUNT needs a target (t) and a type (f)");
		return;
	}
	if (mkdirs)
		r = mkdir_p(target);
	if (mkdirs && r == 0 && strcmp(fstype, "overlay") == 0)
		r = mkdir_overlay_dirs(data);
	if (r == 0 && mount(src, target, fstype, 0, data) < 0)
		r = -errno;
	reply(ag, id, r, "mount", target);
}

void mounts_umount(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len)
{
	const char *target = NULL, *v;
	int detach = 0, rm = 0, r = 0;
	uint32_t pos = 0;
	char tag;

	if (tags_valid(p, len) < 0) {
		channel_send_error(&ag->ch, id, "EINVAL", "UMOUNT: unterminated tag");
		return;
	}
	while (tags_next(p, len, &pos, &tag, &v)) {
		switch (tag) {
		case 't': target = v; break;
		case 'd': detach = 1; break;
		case 'r': rm = 1; break;
		}
	}
	if (!target || !*target) {
		channel_send_error(&ag->ch, id, "EINVAL", "UMOUNT needs a target (t)");
		return;
	}
	const char *what = "umount";
	if (umount2(target, detach ? MNT_DETACH : 0) < 0)
		r = -errno;
	else if (rm && rmdir(target) < 0)
		r = -errno, what = "rmdir";
	reply(ag, id, r, what, target);
}
