/* `berth-agent layer-tar [--exclude RELPATH]... DIR`: writes to stdout an
 * uncompressed OCI image layer made from DIR, the upper dir of a container's
 * overlayfs mount (its changes): `docker build` commits a RUN step with it,
 * `docker commit` a container.
 *
 * The stream is laid out as Docker and containerd write layers: ustar
 * headers (uname/gname empty), and before an entry a PAX 'x' header with
 * whatever its fields cannot hold (path or linkpath over 100 bytes; size,
 * uid, gid, mtime out of octal range) and SCHILY.xattr.security.capability.
 * Names are relative ("etc/", "etc/passwd"), sorted by their components'
 * bytes, parents first; DIR itself is no entry. Two zero blocks end it.
 *
 *   regular file   its content; a later path of the same inode: a hard link
 *                  ('1') to the first one
 *   directory      "NAME/"; if opaque (trusted.overlay.opaque=y) followed by
 *                  "NAME/.wh..wh..opq"
 *   symlink        its target as is
 *   char 0:0       an overlayfs whiteout: "PARENT/.wh.NAME" (sorted by that name)
 *   char, block    major/minor;  FIFO as is;  socket: left out
 *
 * Whiteouts and opaque markers are empty regular files with mode 0, owner
 * 0:0 and mtime 0, as containerd 2.x writes them. Other trusted.overlay.*
 * xattrs are ignored. `--exclude RELPATH` leaves out that path and all
 * under it (mountpoints the runtime made: etc/hosts, ...).
 *
 * Errors go to stderr as "berth-layer-tar: PATH: REASON" with exit status 1
 * (2: usage). What was written by then is no layer: only exit 0 means one.
 */
#define _FILE_OFFSET_BITS 64 /* i386: sizes past 2 GiB, 64-bit inode numbers */
#define _TIME_BITS 64        /* i386: mtimes past 2038 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer_tar.h"

#define BLOCK 512
/* Written in big blocks: a 9p write from the guest costs a round trip through
 * the emulated virtio queue, so 10 MB take ~460 ms in 64 KiB writes and ~140 ms
 * in 512 KiB ones (the engine redirects stdout to a file in the 9p share). */
#define OUT_SIZE (512u << 10)
#define NAME_MAX_USTAR 100

struct hdr {
	const char *name, *link;
	char type;
	uint32_t mode, devmajor, devminor;
	uint64_t uid, gid, size;
	int64_t mtime;
	const char *cap; /* security.capability, caplen bytes */
	size_t caplen;
};

/* One directory's entry: its stat from the listing. */
struct ent {
	char *key;  /* its last component in the stream: ".wh.NAME" for a whiteout */
	char *name; /* its name in the directory (key + 4 for a whiteout) */
	struct stat st;
};

struct link {
	dev_t dev;
	ino_t ino;
	char *path; /* the first path of the inode in the stream */
};

struct pax {
	char *data;
	size_t len, cap;
};

static const char *root;
static char **excludes;
static int n_excludes;
static char *path; /* the current entry's name in the stream */
static size_t path_cap;
static void *links; /* tsearch tree of struct link, for regular files with st_nlink > 1 */
static uint8_t out[OUT_SIZE];
static size_t out_len;
static char capbuf[65536]; /* XATTR_SIZE_MAX */

static int fail(const char *rel, const char *why)
{
	fprintf(stderr, "berth-layer-tar: %s%s%s: %s\n", root, *rel ? "/" : "", rel, why);
	return -1;
}

static int flush_out(void)
{
	size_t off = 0;

	while (off < out_len) {
		ssize_t n = write(STDOUT_FILENO, out + off, out_len - off);
		if (n < 0 && errno == EAGAIN) { /* a non-blocking stdout: wait for room */
			struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
			poll(&p, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "berth-layer-tar: stdout: %s\n", strerror(n < 0 ? errno : EIO));
			return -1;
		}
		off += n;
	}
	out_len = 0;
	return 0;
}

static int put(const void *p, size_t n)
{
	while (n) {
		size_t k = OUT_SIZE - out_len < n ? OUT_SIZE - out_len : n;
		memcpy(out + out_len, p, k);
		out_len += k;
		p = (const uint8_t *)p + k;
		n -= k;
		if (out_len == OUT_SIZE && flush_out() < 0)
			return -1;
	}
	return 0;
}

/* Zeros from the end of n bytes of data to the next block boundary. */
static int pad(uint64_t n)
{
	static const uint8_t zero[BLOCK];
	return n % BLOCK ? put(zero, BLOCK - n % BLOCK) : 0;
}

/* v in octal in a field of w bytes (w - 1 digits and a NUL); -1 if it does not fit. */
static int octal(char *f, size_t w, uint64_t v)
{
	if (v >> (3 * (w - 1)))
		return -1;
	for (size_t i = w - 1; i-- > 0; v >>= 3)
		f[i] = '0' + (v & 7);
	f[w - 1] = 0;
	return 0;
}

static size_t ndigits(size_t n)
{
	size_t d = 1;
	while (n >= 10)
		n /= 10, d++;
	return d;
}

/* A "LEN KEY=VALUE\n" record; LEN counts the whole record, its own digits too. */
static int pax_add(struct pax *p, const char *key, const char *val, size_t vlen)
{
	size_t rec = strlen(key) + vlen + 3, len = rec + ndigits(rec);

	if (ndigits(len) > ndigits(rec))
		len++;
	if (!p)
		return -EOVERFLOW;
	if (p->len + len + 1 > p->cap) {
		size_t cap = (p->len + len + 1) * 2;
		char *d = realloc(p->data, cap);
		if (!d)
			return -ENOMEM;
		p->data = d;
		p->cap = cap;
	}
	p->len += sprintf(p->data + p->len, "%zu %s=", len, key);
	memcpy(p->data + p->len, val, vlen);
	p->len += vlen;
	p->data[p->len++] = '\n';
	return 0;
}

static int pax_num(struct pax *p, const char *key, uint64_t v, int neg)
{
	char s[24];
	int n = neg ? sprintf(s, "%" PRId64, (int64_t)v) : sprintf(s, "%" PRIu64, v);
	return pax_add(p, key, s, n);
}

/* The ustar header block of h. What its fields cannot hold goes to pax
 * (the field then reads 0); 0 or a negative errno. */
static int fill(char *b, const struct hdr *h, struct pax *pax)
{
	size_t nlen = strlen(h->name), llen = h->link ? strlen(h->link) : 0;
	unsigned sum = 0;
	int r = 0;

	memset(b, 0, BLOCK);
	memcpy(b, h->name, nlen < NAME_MAX_USTAR ? nlen : NAME_MAX_USTAR);
	if (nlen > NAME_MAX_USTAR)
		r = pax_add(pax, "path", h->name, nlen);
	octal(b + 100, 8, h->mode & 07777);
	if (!r && octal(b + 108, 8, h->uid) < 0)
		octal(b + 108, 8, 0), r = pax_num(pax, "uid", h->uid, 0);
	if (!r && octal(b + 116, 8, h->gid) < 0)
		octal(b + 116, 8, 0), r = pax_num(pax, "gid", h->gid, 0);
	if (!r && octal(b + 124, 12, h->size) < 0)
		octal(b + 124, 12, 0), r = pax_num(pax, "size", h->size, 0);
	if (!r && (h->mtime < 0 || octal(b + 136, 12, h->mtime) < 0))
		octal(b + 136, 12, 0), r = pax_num(pax, "mtime", h->mtime, 1);
	b[156] = h->type;
	if (h->link)
		memcpy(b + 157, h->link, llen < NAME_MAX_USTAR ? llen : NAME_MAX_USTAR);
	if (!r && llen > NAME_MAX_USTAR)
		r = pax_add(pax, "linkpath", h->link, llen);
	memcpy(b + 257, "ustar", 6);
	memcpy(b + 263, "00", 2);
	if (octal(b + 329, 8, h->devmajor) < 0 || octal(b + 337, 8, h->devminor) < 0)
		return -EOVERFLOW; /* no PAX record holds them */
	if (!r && h->caplen)
		r = pax_add(pax, "SCHILY.xattr.security.capability", h->cap, h->caplen);
	memset(b + 148, ' ', 8);
	for (int i = 0; i < BLOCK; i++)
		sum += (uint8_t)b[i];
	octal(b + 148, 7, sum);
	return r;
}

/* h's header (after a PAX header if it needs one); no content. */
static int put_header(const struct hdr *h)
{
	char b[BLOCK], x[BLOCK], xname[NAME_MAX_USTAR + 1];
	struct pax pax = { 0 };
	int r = fill(b, h, &pax), lost = 0;

	if (r == 0 && pax.len) {
		/* named as Go's archive/tar names them: DIR/PaxHeaders.0/BASE */
		size_t n = strlen(h->name);
		const char *base;
		int dlen;

		while (n > 1 && h->name[n - 1] == '/')
			n--;
		for (base = h->name + n; base > h->name && base[-1] != '/'; base--)
			;
		dlen = base - h->name;
		snprintf(xname, sizeof(xname), "%.*sPaxHeaders.0/%.*s", dlen, h->name,
			 (int)(h->name + n - base), base);
		for (n = strlen(xname); n > 1 && xname[n - 1] == '/'; n--)
			xname[n - 1] = 0;
		r = fill(x, &(struct hdr){ .name = xname, .type = 'x', .size = pax.len }, NULL);
		if (r == 0)
			lost = put(x, BLOCK) < 0 || put(pax.data, pax.len) < 0 || pad(pax.len) < 0;
	}
	free(pax.data);
	if (r < 0)
		return fail(h->name, strerror(-r));
	return lost ? -1 : put(b, BLOCK);
}

/* Exactly size bytes of fd, then its padding; a file that is not size
 * bytes long as it is read is an error, not a short or cut entry. */
static int put_content(int fd, uint64_t size)
{
	uint64_t left = size;
	ssize_t n;
	char c;

	while (left) {
		size_t room = OUT_SIZE - out_len;
		if (!room) {
			if (flush_out() < 0)
				return -1;
			continue;
		}
		n = read(fd, out + out_len, room < left ? room : left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(path, strerror(errno));
		if (n == 0)
			return fail(path, "file shrank while being read");
		out_len += n;
		left -= n;
	}
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return fail(path, strerror(errno));
	if (n > 0)
		return fail(path, "file grew while being read");
	return pad(size);
}

/* path = path[0, base) + a + b */
static int path_set(size_t base, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (base + na + nb + 1 > path_cap) {
		size_t cap = (base + na + nb + 1) * 2;
		char *p = realloc(path, cap);
		if (!p) {
			path[base] = 0;
			return fail(path, strerror(ENOMEM));
		}
		path = p;
		path_cap = cap;
	}
	memcpy(path + base, a, na);
	memcpy(path + base + na, b, nb + 1);
	return 0;
}

static int cmp_link(const void *a, const void *b)
{
	const struct link *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void free_link(void *p)
{
	free(((struct link *)p)->path);
	free(p);
}

/* security.capability of fd into h (Docker and containerd carry it). */
static int get_cap(int fd, struct hdr *h)
{
	ssize_t n = fgetxattr(fd, "security.capability", capbuf, sizeof(capbuf));

	if (n < 0 && errno != ENODATA && errno != ENOTSUP)
		return fail(path, strerror(errno));
	h->cap = capbuf;
	h->caplen = n > 0 ? n : 0;
	return 0;
}

static int put_file(int dfd, const struct ent *e, struct hdr *h)
{
	struct link key = { .dev = e->st.st_dev, .ino = e->st.st_ino }, *l;
	struct stat st;
	int fd, r;

	if (e->st.st_nlink > 1) {
		struct link **found = tfind(&key, &links, cmp_link);
		if (found) {
			h->type = '1';
			h->link = (*found)->path;
			return put_header(h);
		}
	}
	/* O_NONBLOCK: should a FIFO have taken its place, the open does not hang */
	fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail(path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = fail(path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_dev != e->st.st_dev || st.st_ino != e->st.st_ino) {
		r = fail(path, "replaced while being read");
	} else {
		h->type = '0';
		h->mode = st.st_mode;
		h->uid = st.st_uid;
		h->gid = st.st_gid;
		h->mtime = st.st_mtim.tv_sec;
		h->size = st.st_size;
		r = get_cap(fd, h);
		if (r == 0)
			r = put_header(h);
		if (r == 0)
			r = put_content(fd, h->size);
	}
	close(fd);
	if (r == 0 && e->st.st_nlink > 1) {
		if (!(l = malloc(sizeof(*l))))
			return fail(path, strerror(ENOMEM));
		*l = key;
		if (!(l->path = strdup(path)) || !tsearch(l, &links, cmp_link)) {
			free(l->path);
			free(l);
			return fail(path, strerror(ENOMEM));
		}
	}
	return r;
}

static int walk_dir(int fd, size_t base);

static int put_dir(int dfd, size_t base, const struct ent *e, struct hdr *h)
{
	int fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t len;
	ssize_t n;
	char v[2];

	if (fd < 0)
		return fail(path, strerror(errno));
	if (path_set(base, e->name, "/") < 0 || get_cap(fd, h) < 0)
		goto err;
	n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
	if (n < 0 && errno != ENODATA && errno != ENOTSUP && errno != ERANGE) {
		fail(path, strerror(errno));
		goto err;
	}
	h->name = path;
	h->type = '5';
	if (put_header(h) < 0)
		goto err;
	len = strlen(path);
	if (n == 1 && v[0] == 'y') {
		if (path_set(len, ".wh..wh..opq", "") < 0 ||
		    put_header(&(struct hdr){ .name = path, .type = '0' }) < 0)
			goto err;
		path[len] = 0;
	}
	return walk_dir(fd, len);
err:
	close(fd);
	return -1;
}

static int excluded(const char *rel)
{
	for (int i = 0; i < n_excludes; i++)
		if (!strcmp(excludes[i], rel))
			return 1;
	return 0;
}

static int put_ent(int dfd, size_t base, const struct ent *e)
{
	const struct stat *st = &e->st;
	struct hdr h = { .mode = st->st_mode, .uid = st->st_uid, .gid = st->st_gid,
			 .mtime = st->st_mtim.tv_sec };
	static char target[PATH_MAX];
	ssize_t n;

	if (path_set(base, e->name, "") < 0)
		return -1;
	if (excluded(path) || S_ISSOCK(st->st_mode))
		return 0;
	if (e->name != e->key) { /* whiteout */
		if (path_set(base, e->key, "") < 0)
			return -1;
		return put_header(&(struct hdr){ .name = path, .type = '0' });
	}
	h.name = path;
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		return put_file(dfd, e, &h);
	case S_IFDIR:
		return put_dir(dfd, base, e, &h);
	case S_IFLNK:
		n = readlinkat(dfd, e->name, target, sizeof(target));
		if (n < 0 || n == sizeof(target))
			return fail(path, n < 0 ? strerror(errno) : "symlink target too long");
		target[n] = 0;
		h.type = '2';
		h.link = target;
		return put_header(&h);
	case S_IFCHR:
	case S_IFBLK:
		h.type = S_ISCHR(st->st_mode) ? '3' : '4';
		h.devmajor = major(st->st_rdev);
		h.devminor = minor(st->st_rdev);
		return put_header(&h);
	case S_IFIFO:
		h.type = '6';
		return put_header(&h);
	}
	return fail(path, "unknown file type");
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->key, ((const struct ent *)b)->key);
}

/* The entries of directory fd (taken over and closed), path[0, base) its
 * prefix in the stream ("a/b/", "" for DIR). Its names are held (sorted)
 * while its subdirectories are walked: memory grows with the depth and the
 * size of directories, not of files. */
static int walk_dir(int fd, size_t base)
{
	DIR *d = fdopendir(fd);
	struct ent *ents = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(fd);
		return fail(path, strerror(errno));
	}
	for (;;) {
		struct ent *e;
		size_t len;
		int wh;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				r = fail(path, strerror(errno));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			struct ent *p = realloc(ents, (cap = cap ? cap * 2 : 64) * sizeof(*ents));
			if (!p) {
				r = fail(path, strerror(ENOMEM));
				break;
			}
			ents = p;
		}
		e = &ents[n];
		if (fstatat(dirfd(d), de->d_name, &e->st, AT_SYMLINK_NOFOLLOW) < 0) {
			int err = errno;
			r = path_set(base, de->d_name, "") < 0 ? -1 : fail(path, strerror(err));
			break;
		}
		wh = S_ISCHR(e->st.st_mode) && e->st.st_rdev == makedev(0, 0);
		len = strlen(de->d_name);
		if (!(e->key = malloc(len + 5))) {
			r = fail(path, strerror(ENOMEM));
			break;
		}
		memcpy(e->key, ".wh.", 4);
		memcpy(e->key + (wh ? 4 : 0), de->d_name, len + 1);
		e->name = e->key + (wh ? 4 : 0);
		n++;
	}
	if (r == 0 && n) /* ents is NULL for an empty dir, which qsort must not get */
		qsort(ents, n, sizeof(*ents), cmp_ent);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = put_ent(dirfd(d), base, &ents[i]);
	for (size_t i = 0; i < n; i++)
		free(ents[i].key);
	free(ents);
	closedir(d);
	return r;
}

/* "/etc//hosts/", "./etc/hosts" -> "etc/hosts"; NULL if nothing is left or
 * a component is "..". */
static char *norm_rel(const char *s)
{
	char *res = malloc(strlen(s) + 1), *o = res;

	if (!res)
		return NULL;
	while (*s) {
		size_t n = strcspn(s, "/");
		if (n == 2 && !strncmp(s, "..", 2))
			break;
		if (n && !(n == 1 && *s == '.')) {
			if (o != res)
				*o++ = '/';
			memcpy(o, s, n);
			o += n;
		}
		s += n;
		s += strspn(s, "/");
	}
	*o = 0;
	if (*s || o == res) {
		free(res);
		return NULL;
	}
	return res;
}

static int usage(void)
{
	fprintf(stderr, "usage: berth-agent layer-tar [--exclude RELPATH]... DIR\n");
	return 2;
}

int layer_tar_main(int argc, char **argv)
{
	static const uint8_t end[2 * BLOCK];
	int i, fd, r;

	if (!(excludes = calloc(argc, sizeof(*excludes))))
		return 1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--exclude") && i + 1 < argc) {
			if (!(excludes[n_excludes] = norm_rel(argv[++i]))) {
				fprintf(stderr, "berth-layer-tar: --exclude %s: not a path inside DIR\n", argv[i]);
				return 2;
			}
			n_excludes++;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (argv[i][0] == '-') {
			return usage();
		} else {
			break;
		}
	}
	if (i != argc - 1)
		return usage();
	root = argv[i];
	if (!(path = calloc(1, path_cap = 256)))
		return 1;
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = fail("", strerror(errno));
	else
		r = walk_dir(fd, 0);
	if (r == 0)
		r = put(end, sizeof(end));
	if (r == 0)
		r = flush_out();
	tdestroy(links, free_link);
	for (i = 0; i < n_excludes; i++)
		free(excludes[i]);
	free(excludes);
	free(path);
	return r < 0 ? 1 : 0;
}
