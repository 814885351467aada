/*
 * no-ia32: runs a command as on a 64-bit host that cannot run 32-bit programs
 * (a kernel without IA32 emulation: there an i386 binary fails with "Exec
 * format error"). A test tool for the guest build (issue 14): the build and
 * the agent's native tests must never execute a guest (i386) binary on the
 * host, except under qemu-i386-static (guest/run-i386.sh), which is an x86-64
 * program emulating i386 system calls with x86-64 ones.
 *
 * It sets PR_SET_NO_NEW_PRIVS and installs a seccomp filter, inherited by every
 * process the command starts, that kills the process (SIGSYS, "Bad system
 * call") at its first system call made through an ABI other than x86-64:
 * i386 (int 0x80, sysenter) or x32. An i386 program dies before it does
 * anything; x86-64 programs are unaffected.
 *
 *   bash scripts/no-ia32.sh COMMAND [ARG...]    (builds it on demand, then runs it)
 *   gcc -O2 -Wall -o /tmp/no-ia32 scripts/no-ia32.c && /tmp/no-ia32 COMMAND [ARG...]
 *
 * e.g. `bash scripts/no-ia32.sh bash guest/build.sh` must succeed, and
 * `bash scripts/no-ia32.sh ./some-i386-program` must fail (exit 159, SIGSYS).
 * x86-64 Linux only.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef __x86_64__
#error "no-ia32 is for x86-64 hosts"
#endif
#define X32_SYSCALL_BIT 0x40000000

int main(int argc, char **argv)
{
	struct sock_filter filter[] = {
		/* arch != x86-64 (i386 through int 0x80 or sysenter): kill */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		/* x32 system calls (x86-64 arch, number with bit 30): kill */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (argc < 2) {
		fprintf(stderr, "usage: no-ia32 COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "no-ia32: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
		return 1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		fprintf(stderr, "no-ia32: seccomp filter: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-ia32: %s: %s\n", argv[1], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
