# Shell helpers shared by the guest build scripts (sourced, bash). Nothing here
# executes a guest (i386) program: many hosts cannot. Busybox's applet list is
# the one thing that has to come from running it, through guest/run-i386.sh.

guest_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# die MESSAGE...: stops the build, saying why.
die() { echo "berth: $*" >&2; exit 1; }

# trap_errors STEP: a failing command stops the script (with set -eE) and says
# which step, where and what failed, rather than dying in silence.
trap_errors() {
  trap 'rc=$?; echo "berth: '"$1"': failed (exit $rc) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
}

# is_i386_elf FILE: true if FILE is a 32-bit little-endian ELF for Intel 80386
# (e_ident class 1, data 1; e_machine 3), read from its header.
is_i386_elf() {
  local h
  h=$(od -An -tx1 -v -N20 -- "$1" 2>/dev/null | tr -d ' \n') || return 1
  [ "${h:0:12}" = 7f454c460101 ] && [ "${h:36:4}" = 0300 ]
}

# Applets the guest and the tests use: the agent and the engine's shell
# snippets in the guest (src/engine), the integration and e2e tests (tests/),
# and the usual interactive ones. The build fails if busybox does not list one
# of them, or if one is missing from what is built.
REQUIRED_APPLETS=(
  sh ash mount umount httpd wget nc ls cat echo printf sleep mkdir rmdir tar gzip sed grep awk
  ip hostname id seq sha256sum md5sum vi top ps kill date env true false test '[' head tail wc du df
  find xargs chmod chown touch rm cp mv ln readlink stat dirname basename tr cut uname pwd
  tty stty timeout free paste
)

# busybox_applets BUSYBOX --list|--list-full: busybox's own list of its applets
# (names, or paths like usr/bin/wget), checked before anything is built from it:
# not empty, one well-formed entry a line, no name twice, every required applet.
busybox_applets() {
  local bb="$1" how="$2" list bad dup missing=() a
  list=$(bash "$guest_dir/run-i386.sh" "$bb" "$how") || die "running busybox $how (under qemu-i386-static) failed"
  [ -n "$list" ] || die "busybox $how listed no applets"
  bad=$(grep -Ev '^((usr/)?s?bin/)?([a-z0-9_.-]+|\[|\[\[)$' <<<"$list" || true)
  [ -z "$bad" ] || die "busybox $how: unexpected entries: $(head -3 <<<"$bad" | paste -sd' ')"
  local names; names=$(awk -F/ '{print $NF}' <<<"$list")
  dup=$(sort <<<"$names" | uniq -d)
  [ -z "$dup" ] || die "busybox $how lists applets twice: $(paste -sd' ' <<<"$dup")"
  for a in "${REQUIRED_APPLETS[@]}"; do grep -qxF -- "$a" <<<"$names" || missing+=("$a"); done
  ((${#missing[@]} == 0)) || die "busybox $how lacks applets the guest and tests use: ${missing[*]}"
  printf '%s\n' "$list"
}
