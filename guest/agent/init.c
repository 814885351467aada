/*
 * The guest's init, in C: the shell script it replaces spent about a second
 * of every boot forking busybox for each step.
 *
 * Stage 1: the kernel unpacked the initramfs (only this program, as /init)
 * into rootfs, where pivot_root(2) is refused, so crun could not start
 * containers. Mount the host's 9p share, where the host put the system
 * (busybox, crun and its libraries) as one EROFS image before boot; mount the
 * image read-only through a loop device; make a tmpfs the root with the
 * image's directories bound into it and the share moved to /berth
 * (switch_root). The initramfs used to hold every file, and unpacking,
 * copying and freeing ~9 MB of them cost ~1.2 s of every boot in the emulator;
 * inside the initramfs, the image alone still cost ~0.3 s to unpack and free.
 * Stage 2: mount the kernel filesystems and cgroup2 with its controllers
 * handed down; then the caller serves the host.
 */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

#define NEWROOT "/newroot"
#define SHARE "/berth"
/* Where the host puts the system image in its 9p tree (src/vm/guest-vm.ts). */
#define SYSTEM_IMAGE SHARE "/guest/system.img"
#define SYSTEM "/system"

static int fail(const char *what, const char *path)
{
	int e = errno;
	fprintf(stderr, "berth-init: %s %s: %s\n", what, path, strerror(e));
	return -e;
}

/* Copies one file's bytes; modes and owners are set by the caller. */
static int copy_data(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return fail("open", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return fail("create", to);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, n - off);
			if (w < 0) {
				close(in), close(out);
				return fail("write", to);
			}
			off += w;
		}
	}
	close(in);
	close(out);
	return n < 0 ? fail("read", from) : 0;
}

/* cp -a from → to for a tree of regular files, dirs, symlinks and device nodes. */
static int copy_tree(const char *from, const char *to)
{
	struct stat st;
	int r = 0;

	if (lstat(from, &st) < 0)
		return fail("stat", from);
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *e;
		if (mkdir(to, st.st_mode & 07777) < 0 && errno != EEXIST)
			return fail("mkdir", to);
		if (!(d = opendir(from)))
			return fail("opendir", from);
		while (r == 0 && (e = readdir(d))) {
			char a[PATH_MAX], b[PATH_MAX];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
			snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
			r = copy_tree(a, b);
		}
		closedir(d);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(from, target, sizeof(target) - 1);
		if (n < 0)
			return fail("readlink", from);
		target[n] = 0;
		if (symlink(target, to) < 0)
			return fail("symlink", to);
		return lchown(to, st.st_uid, st.st_gid) < 0 ? fail("chown", to) : 0;
	} else if (S_ISREG(st.st_mode)) {
		r = copy_data(from, to, st.st_mode);
	} else if (mknod(to, st.st_mode, st.st_rdev) < 0) {
		return fail("mknod", to);
	}
	if (r == 0 && (chown(to, st.st_uid, st.st_gid) < 0 || chmod(to, st.st_mode & 07777) < 0))
		return fail("chown/chmod", to);
	return r;
}

/* Attaches a file to a free loop device, read-only; writes the device's path. */
static int loop_attach(const char *file, char *dev, size_t len)
{
	struct loop_config cfg = { .info = { .lo_flags = LO_FLAGS_READ_ONLY } };
	int ctl, n, fd, file_fd, r = 0;

	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0)
		return fail("open", "/dev/loop-control");
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return fail("find a free loop device for", file);
	snprintf(dev, len, "/dev/loop%d", n);
	if ((file_fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return fail("open", file);
	cfg.fd = (__u32)file_fd;
	if ((fd = open(dev, O_RDONLY | O_CLOEXEC)) < 0)
		r = fail("open", dev);
	else if (ioctl(fd, LOOP_CONFIGURE, &cfg) < 0)
		r = fail("attach to a loop device:", file);
	if (fd >= 0)
		close(fd);
	close(file_fd);
	return r;
}

/*
 * crun guards against CVE-2019-5736 (a container overwriting the runtime's
 * binary) by copying itself into a sealed memfd and re-executing from it at
 * every call, unless its binary is on a read-only mount: that copy and second
 * exec were half the cost of every `crun run` and `crun exec`. Debian's i386
 * crun is built without large-file support, so its fstatfs() fails with
 * EOVERFLOW on EROFS (which reports 2^64-1 inodes) and it cannot see that the
 * image is read-only. So crun itself comes in the initramfs (/crun; the
 * image has an empty placeholder), which is a ramfs (`rootfstype=ramfs`: crun
 * takes any shmem file, tmpfs included, for an unsealed memfd), and is bound
 * read-only over /usr/bin/crun.
 */
static int trusted_crun(void)
{
	if (mount("/crun", NEWROOT "/usr/bin/crun", NULL, MS_BIND, NULL) < 0)
		return fail("bind mount", NEWROOT "/usr/bin/crun");
	if (mount(NULL, NEWROOT "/usr/bin/crun", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return fail("remount read-only", NEWROOT "/usr/bin/crun");
	return 0;
}

static int stage1(void)
{
	static const char *const bound[] = { "bin", "sbin", "usr", "lib" };
	static const char *const empty[] = { "proc", "sys", "dev", "run", "tmp", "berth" };
	char dev[32], b[PATH_MAX];
	int r;

	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0)
		return fail("mount devtmpfs on", "/dev");
	/* The host's 9p tree: the system image, then image layers, bundles, volumes. */
	mkdir(SHARE, 0755);
	if (mount("host9p", SHARE, "9p", 0, "trans=virtio,version=9p2000.L,msize=512000") < 0)
		return fail("mount the host's 9p share on", SHARE);
	if ((r = loop_attach(SYSTEM_IMAGE, dev, sizeof(dev))) < 0)
		return r;
	mkdir(SYSTEM, 0755);
	if (mount(dev, SYSTEM, "erofs", MS_RDONLY | MS_NODEV, NULL) < 0)
		return fail("mount the system image on", SYSTEM);
	mkdir(NEWROOT, 0755);
	if (mount("rootfs", NEWROOT, "tmpfs", 0, "mode=0755") < 0)
		return fail("mount tmpfs on", NEWROOT);
	for (size_t i = 0; i < sizeof(bound) / sizeof(bound[0]); i++) {
		char a[PATH_MAX];
		snprintf(a, sizeof(a), SYSTEM "/%s", bound[i]);
		snprintf(b, sizeof(b), NEWROOT "/%s", bound[i]);
		mkdir(b, 0755);
		if (mount(a, b, NULL, MS_BIND, NULL) < 0)
			return fail("bind mount", b);
	}
	if ((r = trusted_crun()) < 0)
		return r;
	/* /etc is small and stays writable, as on any system. */
	if ((r = copy_tree(SYSTEM "/etc", NEWROOT "/etc")) < 0)
		return r;
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		snprintf(b, sizeof(b), NEWROOT "/%s", empty[i]);
		mkdir(b, 0755);
	}
	mkdir(NEWROOT "/root", 0700);
	chmod(NEWROOT "/tmp", 01777);
	if (mount(SHARE, NEWROOT SHARE, NULL, MS_MOVE, NULL) < 0)
		return fail("move mount", SHARE);
	if (chdir(NEWROOT) < 0)
		return fail("chdir", NEWROOT);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return fail("move mount", NEWROOT);
	if (chroot(".") < 0 || chdir("/") < 0)
		return fail("chroot", NEWROOT);
	return 0;
}

static int mnt(const char *src, const char *target, const char *type, unsigned long flags, const char *data)
{
	mkdir_p(target);
	if (mount(src, target, type, flags, data) < 0)
		return fail("mount", target);
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open", path);
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return fail("write", path);
	}
	close(fd);
	return 0;
}

static int loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail("socket", "lo");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return 0;
}

static int stage2(void)
{
	int r = 0, err;
	r |= mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	r |= mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	r |= mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	r |= mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	unlink("/dev/ptmx"); /* the devtmpfs node would open the initial instance */
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		r |= fail("symlink", "/dev/ptmx");
	r |= mnt("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	r |= mnt("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	r |= mnt("run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	r |= mnt("tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mkdir_p("/run/berth/containers");
	mkdir_p("/run/crun");
	r |= mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/* Hand the controllers down so each container's cgroup can set its limits. */
	r |= write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids +memory +cpu");
	if (sethostname("berth", 5) < 0)
		r |= fail("sethostname", "berth");
	loopback_up();
	if ((err = net_uplink()) < 0) /* containers lose the outside world, nothing else */
		fprintf(stderr, "berth-init: eth0: %s\n", strerror(-err));
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	return r ? -EIO : 0;
}

int init_system(void)
{
	int r;

	if ((r = stage1()) < 0)
		return r;
	return stage2();
}
