#!/usr/bin/env python3
"""Tests for berth-agent: runs it natively with --fd over a socketpair and
plays the host side of docs/protocol.md. Standard library only.

    python3 test_agent.py ./berth-agent

Run it against a build for the host (`make test`: berth-agent-host, plain
gcc), not the guest's static i386 binary: many hosts cannot execute i386
programs at all. What needs the real i386 binary is tested in the guest by
the integration suites.

Prints TAP-ish lines ("ok N - name", "not ok N - name  # detail",
"ok N - name # SKIP reason") and closes with "N passed, N failed", followed
by ", N skipped" when some were skipped; exits 1 on any failure. A skip is
not a pass. MOUNT tests need root (they are skipped otherwise); they mount a
tmpfs under their temp dir and unmount whatever is left there at the end.
The `docker` client tests run the same binary through a symlink named
docker, against the agent's --docker-socket in a temp dir. The
`layer-tar` tests run it on a tree in a temp dir; the parts that need
mknod, trusted.* xattrs or bind mounts are skipped (with the reason) where
the machine refuses them.
"""
import fcntl
import io
import os
import random
import re
import select
import shutil
import socket
import stat
import struct
import subprocess
import sys
import signal
import tarfile
import tempfile
import termios
import time
import zlib

HELLO, PING, PONG, ACK = 0x01, 0x02, 0x03, 0x04
EXEC, STARTED, STDIN, STDIN_EOF, STDOUT, STDERR, EXIT = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
SIGNAL, RESIZE, STDIN_ACK, MOUNT, UMOUNT, OK, ERROR = 0x17, 0x18, 0x19, 0x20, 0x21, 0x7E, 0x7F
C_OPEN, C_STDIN, C_STDIN_EOF, C_STDOUT, C_STDERR = 0x30, 0x31, 0x32, 0x33, 0x34
C_EXIT, C_RESIZE, C_RAW, C_SIGNAL, C_WANT_STDIN = 0x35, 0x36, 0x37, 0x38, 0x39
SESSION_BIT = 0x80000000
MAX_PAYLOAD = 65536
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def frame(ftype, fid, payload=b"", crc_fix=None):
    head = b"BR" + bytes([ftype, 0]) + struct.pack("<II", fid, len(payload))
    crc = zlib.crc32(head + payload) if crc_fix is None else crc_fix
    return head + struct.pack("<I", crc) + payload


def tags(*items):
    """tags(("a", "echo"), ("a", "hi"), ("n", "")) -> the NUL-separated list."""
    out = b""
    for t, v in items:
        out += t.encode() + (v if isinstance(v, bytes) else v.encode()) + b"\0"
    return out


def parse_tags(payload):
    d = {}
    for s in payload.split(b"\0"):
        if s:
            d.setdefault(chr(s[0]), s[1:].decode(errors="replace"))
    return d


def tag_list(payload):
    """All (tag, value) pairs, in order, repeated tags included."""
    return [(chr(s[0]), s[1:].decode(errors="replace")) for s in payload.split(b"\0") if s]


class Agent:
    def __init__(self, path, tty=False, docker_socket=None):
        """The agent on one end of a socketpair, or of a pty pair with tty=True."""
        if tty:
            self.fd, theirs = os.openpty()  # the slave starts cooked, with echo
        else:
            self.sock, sock_theirs = socket.socketpair()
            self.fd, theirs = self.sock.fileno(), sock_theirs.fileno()
        extra = ["--docker-socket", docker_socket] if docker_socket else []
        self.proc = subprocess.Popen([path] + extra + ["--fd", str(theirs)], pass_fds=[theirs])
        os.close(theirs) if tty else sock_theirs.close()
        self.buf = b""
        self.frames = []  # (type, id, payload), not yet taken by a test
        self.sent = 0
        self.last_ack = None

    def send(self, data):
        view = memoryview(data)
        while view:
            r, w, _ = select.select([self.fd], [self.fd], [], 5)
            if r:
                self.pump(0)
            if w:
                view = view[os.write(self.fd, view):]
        self.sent += len(data)

    def close(self):
        os.close(self.fd)

    def pump(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return
        data = os.read(self.fd, 1 << 20)
        if not data:
            raise EOFError("agent closed the channel")
        self.buf += data
        while len(self.buf) >= 16:
            if self.buf[:2] != b"BR":
                raise ValueError("agent sent bad magic: %r" % self.buf[:16])
            ftype, _, fid, n, crc = struct.unpack("<BBIII", self.buf[2:16])
            if n > MAX_PAYLOAD:
                raise ValueError("agent sent an oversized frame")
            if len(self.buf) < 16 + n:
                break
            payload = self.buf[16:16 + n]
            if zlib.crc32(self.buf[:12] + payload) != crc:
                raise ValueError("agent sent a bad CRC")
            self.buf = self.buf[16 + n:]
            if ftype == ACK:
                self.last_ack = struct.unpack("<I", payload)[0]
            else:
                self.frames.append((ftype, fid, payload))

    def take(self, pred, timeout=5.0):
        """The first frame matching pred (removed), or None after timeout."""
        end = time.monotonic() + timeout
        while True:
            for i, f in enumerate(self.frames):
                if pred(f):
                    return self.frames.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.pump(left)

    def take_id(self, fid, timeout=5.0):
        return self.take(lambda f: f[1] == fid, timeout)

    def run(self, fid, items, stdin=None, eof=False, timeout=10.0):
        """EXEC and collect everything for fid until EXIT or ERROR."""
        self.send(frame(EXEC, fid, tags(*items)))
        if stdin is not None:
            self.send(frame(STDIN, fid, stdin))
        if eof:
            self.send(frame(STDIN_EOF, fid))
        return self.collect(fid, timeout)

    def collect(self, fid, timeout=10.0, res=None):
        res = res or {"order": [], "out": b"", "err": b"", "exit": None, "error": None,
                      "pid": None, "acked": 0}
        end = time.monotonic() + timeout
        while True:
            f = self.take_id(fid, end - time.monotonic())
            if f is None:
                res["timeout"] = True
                return res
            ftype, _, p = f
            res["order"].append(ftype)
            if ftype == STARTED:
                res["pid"] = struct.unpack("<I", p)[0]
            elif ftype == STDOUT:
                res["out"] += p
            elif ftype == STDERR:
                res["err"] += p
            elif ftype == STDIN_ACK:
                res["acked"] += struct.unpack("<I", p)[0]
            elif ftype == EXIT:
                res["exit"] = struct.unpack("<ii", p)
                return res
            elif ftype == ERROR:
                res["error"] = parse_tags(p)
                return res

    def ping(self, fid=0x5050, payload=b"are you there", timeout=5.0):
        self.send(frame(PING, fid, payload))
        f = self.take(lambda f: f[0] == PONG and f[1] == fid, timeout)
        return f is not None and f[2] == payload

    def errors(self, fid=0):
        """Take all ERROR frames on fid received so far."""
        out = [parse_tags(f[2]) for f in self.frames if f[0] == ERROR and f[1] == fid]
        self.frames = [f for f in self.frames if not (f[0] == ERROR and f[1] == fid)]
        return out


class Runner:
    def __init__(self):
        self.n = self.passed = self.failed = self.skipped = 0

    def skip(self, name, reason):
        self.n += 1
        self.skipped += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason))
        sys.stdout.flush()

    def summary(self):
        line = "%d passed, %d failed" % (self.passed, self.failed)
        return line + (", %d skipped" % self.skipped if self.skipped else "")

    def check(self, name, cond, detail=""):
        self.n += 1
        if cond:
            self.passed += 1
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s%s" % (self.n, name, "  # " + str(detail)[:600] if detail else ""))
        sys.stdout.flush()


def sh(cmd):
    return [("a", "sh"), ("a", "-c"), ("a", cmd), ("e", PATH)]


CONSOLE_HELPER = r"""
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
master, slave = os.openpty()
socket.send_fds(s, [b"x"], [master])
os.close(master); s.close()
print("helper stdout", flush=True)
os.write(slave, b"hello console\n")
line = b""
while not line.endswith(b"\n"):
    line += os.read(slave, 100)
os.write(slave, b"got: " + line)
time.sleep(0.1)
"""


def main():
    agent_path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./berth-agent")
    t = Runner()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="berth-agent-test."))
    docker_sock = os.path.join(tmp, "run", "berth", "docker.sock")  # parents made by the agent
    a = Agent(agent_path, docker_socket=docker_sock)
    t0 = time.monotonic()
    try:
        run_tests(t, a, tmp)
        client_tests(t, a, agent_path, tmp, docker_sock)
    except Exception as e:  # a crash of the harness is a failure, not a traceback storm
        import traceback
        traceback.print_exc()
        t.check("harness ran to the end", False, repr(e))
    finally:
        alive = a.proc.poll() is None
        t.check("agent still running at the end", alive, "exit status %s" % a.proc.returncode)
        a.close()
        try:
            rc = a.proc.wait(5)
        except subprocess.TimeoutExpired:
            a.proc.kill()
            rc = "hung"
        if alive:
            t.check("agent exits 0 when the channel closes", rc == 0, rc)
            t.check("docker socket removed when the agent exits", not os.path.exists(docker_sock))
        left = unmount_under(tmp)
        t.check("no mounts left under the temp dir", not left, left)
        shutil.rmtree(tmp, ignore_errors=True)
    tty_channel_test(t, agent_path)
    layer_tar_tests(t, agent_path)
    print("# %.1f s" % (time.monotonic() - t0))
    print(t.summary())
    sys.exit(1 if t.failed else 0)


def mounts_under(path):
    """Mount points at or below path, deepest first (from /proc/self/mounts)."""
    out = []
    with open("/proc/self/mounts") as fh:
        for line in fh:
            mp = line.split()[1].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def unmount_under(path):
    """Detach whatever a failed MOUNT test left mounted under path (so the
    temp dir can be removed and the host keeps no stray mounts); returns the
    mount points found."""
    found = mounts_under(path)
    for mp in found:
        subprocess.run(["umount", "-l", mp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return found


def tty_channel_test(t, path):
    """Over a tty the agent must switch to raw mode: no echo, no CR/LF or
    control-character translation, no line buffering."""
    a = Agent(path, tty=True)
    try:
        f = a.take(lambda f: f[0] == HELLO, 5)
        payload = bytes(range(256)) * 4
        ok = f is not None and a.ping(9, payload)
        big = random.Random(2).randbytes(MAX_PAYLOAD)
        ok2 = ok and a.ping(10, big, timeout=10)
        t.check("tty channel: raw mode, binary PING/PONG intact", ok and ok2 and not a.errors(), a.frames[:3])
    except Exception as e:
        t.check("tty channel: raw mode, binary PING/PONG intact", False, repr(e))
    finally:
        a.proc.kill()
        a.proc.wait()
        a.close()


def run_tests(t, a, tmp):
    f = a.take(lambda f: f[0] == HELLO, 5)
    hello = parse_tags(f[2]) if f else {}
    t.check("HELLO arrives with v and k", f is not None and f[1] == 0 and hello.get("v", "").startswith("berth-agent")
            and hello.get("k") == os.uname().release, hello)

    a.send(frame(PING, 42, b"\x00\x01payload"))
    f = a.take(lambda f: f[0] == PONG, 5)
    t.check("PING gets PONG with same id and payload", f == (PONG, 42, b"\x00\x01payload"), f)
    a.send(frame(PING, 43))
    f = a.take(lambda f: f[0] == PONG, 5)
    t.check("empty PING gets empty PONG", f == (PONG, 43, b""), f)

    # --- EXEC basics ---
    r = a.run(1, [("a", "echo"), ("a", "hi"), ("e", PATH)])
    t.check("echo hi: STARTED, STDOUT hi, EXIT 0", r["pid"] and r["out"] == b"hi\n" and r["exit"] == (0, 0)
            and r["order"][0] == STARTED and r["order"][-1] == EXIT, r)

    r = a.run(2, sh("echo out; echo err >&2"))
    t.check("stdout and stderr arrive as STDOUT and STDERR", r["out"] == b"out\n" and r["err"] == b"err\n"
            and r["exit"] == (0, 0), r)

    r = a.run(3, sh("exit 7"))
    t.check("sh -c 'exit 7' exits 7", r["exit"] == (7, 0), r)

    r = a.run(4, [("a", "/nonexistent/prog"), ("e", PATH)])
    t.check("missing program: ERROR ENOENT", r["error"] and r["error"].get("c") == "ENOENT"
            and r["order"] == [ERROR], r)
    r = a.run(5, [("a", "no-such-program-anywhere"), ("e", PATH)])
    t.check("missing program in PATH: ERROR ENOENT", r["error"] and r["error"].get("c") == "ENOENT"
            and r["order"] == [ERROR], r)
    t.check("no STARTED/EXIT after ERROR", a.ping() and not [x for x in a.frames if x[1] in (4, 5)], a.frames)

    r = a.run(6, [("a", "/etc/passwd")])
    t.check("non-executable: ERROR EACCES", r["error"] and r["error"].get("c") == "EACCES", r)

    r = a.run(7, [("a", "/usr/bin/env"), ("e", "FOO=bar"), ("e", "X=1")])
    t.check("environment is exactly the e tags", r["out"] == b"FOO=bar\nX=1\n" and r["exit"] == (0, 0), r)
    r = a.run(8, [("a", "env"), ("e", "PATH=/usr/bin")])
    t.check("PATH lookup uses the e PATH", r["out"] == b"PATH=/usr/bin\n" and r["exit"] == (0, 0), r)
    r = a.run(9, [("a", "env"), ("e", "PATH=/nonexistent")])
    t.check("PATH lookup fails with that PATH", r["error"] and r["error"].get("c") == "ENOENT", r)
    r = a.run(10, [("a", "env")])
    t.check("default PATH when no e PATH", r["out"] == b"" and r["exit"] == (0, 0), r)

    r = a.run(11, [("a", "pwd"), ("c", "/tmp"), ("e", PATH)])
    t.check("c sets the working dir", r["out"] == b"/tmp\n" and r["exit"] == (0, 0), r)
    r = a.run(12, [("a", "pwd"), ("c", "/nonexistent-dir"), ("e", PATH)])
    t.check("bad working dir: ERROR ENOENT naming it", r["error"] and r["error"].get("c") == "ENOENT"
            and "/nonexistent-dir" in r["error"].get("m", ""), r)

    a.send(frame(EXEC, 0, tags(("a", "true"))))
    f = a.take_id(0)
    t.check("EXEC on id 0: ERROR EINVAL", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "EINVAL", f)
    a.send(frame(EXEC, 13, tags(("e", PATH))))
    f = a.take_id(13)
    t.check("EXEC without argv: ERROR EINVAL", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "EINVAL", f)
    a.send(frame(EXEC, 13, b"aecho"))
    f = a.take_id(13)
    t.check("EXEC with unterminated tag: ERROR EINVAL", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "EINVAL", f)

    a.send(frame(EXEC, 14, tags(("a", "sleep"), ("a", "100"), ("e", PATH))))  # some fds to leak
    a.take_id(14)
    r = a.run(15, [("a", "ls"), ("a", "/proc/self/fd"), ("e", PATH)])
    a.send(frame(SIGNAL, 14, struct.pack("<i", 9)))
    r14 = a.collect(14)
    t.check("no agent fds leak into processes", r["out"] == b"0\n1\n2\n3\n" and r14["exit"] == (137, 9), r)

    # --- big output, concurrency ---
    size = 4 << 20
    r = a.run(20, sh("head -c %d /dev/zero | tr '\\0' a" % size), timeout=20)
    t.check("4 MiB of output arrives intact", len(r["out"]) == size and r["out"].count(b"a") == size
            and r["exit"] == (0, 0), (len(r["out"]), r["exit"], r["error"]))

    ids = [21, 22, 23, 24]
    for i in ids:
        a.send(frame(EXEC, i, tags(*sh("head -c 1048576 /dev/zero | tr '\\0' %s" % chr(ord("a") + i - 21)))))
    res = {i: a.collect(i, 20) for i in ids}
    t.check("4 concurrent chatty processes, 1 MiB each, intact",
            all(len(res[i]["out"]) == 1 << 20 and res[i]["out"].count(chr(ord("a") + i - 21).encode()) == 1 << 20
                and res[i]["exit"] == (0, 0) for i in ids),
            {i: (len(res[i]["out"]), res[i]["exit"]) for i in ids})

    # --- stdin ---
    r = a.run(30, [("a", "cat"), ("e", PATH)], stdin=b"hello\nworld", eof=True)
    t.check("cat: stdin passthrough, STDIN_EOF, EXIT 0", r["out"] == b"hello\nworld" and r["exit"] == (0, 0), r)
    t.check("cat: STDIN_ACK counts the bytes", r["acked"] == 11, r["acked"])

    data = random.Random(1).randbytes(1 << 20)
    a.send(frame(EXEC, 31, tags(("a", "cat"), ("e", PATH))))
    res = {"order": [], "out": b"", "err": b"", "exit": None, "error": None, "pid": None, "acked": 0}
    sent = 0
    end = time.monotonic() + 20
    while sent < len(data) and time.monotonic() < end:
        while sent < len(data) and sent - res["acked"] < 65536:
            a.send(frame(STDIN, 31, data[sent:sent + 4096]))
            sent += 4096
        f = a.take_id(31, 0.05)
        while f:
            res["order"].append(f[0])
            if f[0] == STDIN_ACK:
                res["acked"] += struct.unpack("<I", f[2])[0]
            elif f[0] == STDOUT:
                res["out"] += f[2]
            f = a.take(lambda x: x[1] == 31, 0)
    a.send(frame(STDIN_EOF, 31))
    r = a.collect(31, 20, res)
    t.check("1 MiB through cat within a 64 KiB stdin window", r["out"] == data and r["exit"] == (0, 0)
            and r["acked"] == len(data), (len(r["out"]), r["acked"], r["exit"]))

    r = a.run(32, [("a", "cat"), ("n", ""), ("e", PATH)], timeout=5)
    t.check("n: stdin is /dev/null", r["out"] == b"" and r["exit"] == (0, 0), r)

    a.send(frame(STDIN, 999, b"x"))
    f = a.take_id(999)
    t.check("STDIN to an unknown id: ERROR ESRCH", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "ESRCH", f)

    # --- pty ---
    r = a.run(40, [("a", "tty"), ("t", "24x80"), ("e", PATH)])
    t.check("pty: tty prints /dev/pts/N", re.fullmatch(rb"/dev/pts/\d+\r\n", r["out"]) and r["exit"] == (0, 0), r)

    r = a.run(41, sh("echo to-stderr >&2") + [("t", "24x80")])
    t.check("pty: stderr arrives as STDOUT", r["out"] == b"to-stderr\r\n" and r["err"] == b""
            and STDERR not in r["order"] and r["exit"] == (0, 0), r)

    a.send(frame(EXEC, 42, tags(*sh("stty size; read x; stty size"), ("t", "24x80"))))
    res = {"order": [], "out": b"", "err": b"", "exit": None, "error": None, "pid": None, "acked": 0}
    end = time.monotonic() + 5
    while b"24 80" not in res["out"] and time.monotonic() < end:
        f = a.take_id(42, 0.1)
        if f and f[0] == STDOUT:
            res["out"] += f[2]
    a.send(frame(RESIZE, 42, struct.pack("<HH", 50, 132)))
    a.send(frame(STDIN, 42, b"\n"))
    r = a.collect(42, 5, res)
    t.check("pty: t sets the size, RESIZE changes it", b"24 80" in r["out"] and b"50 132" in r["out"]
            and r["exit"] == (0, 0), r)

    r = a.run(43, [("a", "cat"), ("t", "24x80"), ("e", PATH)], stdin=b"abc\n", eof=True)
    t.check("pty: STDIN_EOF ends cat", r["out"].count(b"abc") >= 1 and r["exit"] == (0, 0), r)

    a.send(frame(RESIZE, 2000, struct.pack("<HH", 1, 1)))
    f = a.take_id(2000)
    t.check("RESIZE on an unknown id: ERROR ESRCH", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "ESRCH", f)

    # --- signals, exit codes ---
    a.send(frame(EXEC, 50, tags(("a", "sleep"), ("a", "100"), ("e", PATH))))
    f = a.take_id(50)
    a.send(frame(SIGNAL, 50, struct.pack("<i", 9)))
    r = a.collect(50, 5)
    t.check("SIGNAL 9 kills sleep: EXIT 137, signal 9", f and f[0] == STARTED and r["exit"] == (137, 9), (f, r))

    a.send(frame(EXEC, 51, tags(*sh("sleep 100 | cat"))))
    f = a.take_id(51)
    a.send(frame(SIGNAL, 51, struct.pack("<i", 15)))
    r = a.collect(51, 5)
    t.check("SIGNAL 15 hits the whole group: EXIT 143, signal 15", r["exit"] == (143, 15), r)

    a.send(frame(EXEC, 52, tags(("a", "sleep"), ("a", "100"), ("e", PATH))))
    a.take_id(52)
    a.send(frame(EXEC, 52, tags(("a", "true"), ("e", PATH))))
    f = a.take_id(52)
    t.check("reusing a running id: ERROR EBUSYID", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "EBUSYID", f)
    a.send(frame(SIGNAL, 52, struct.pack("<i", 9)))
    r = a.collect(52, 5)
    t.check("and the first process is unaffected", r["exit"] == (137, 9), r)

    t0 = time.monotonic()
    r = a.run(53, sh("sleep 3 & echo done"))
    took = time.monotonic() - t0
    t.check("a grandchild holding stdout does not delay EXIT", r["out"] == b"done\n" and r["exit"] == (0, 0)
            and took < 2, (r, took))

    # --- console socket ---
    helper = os.path.join(tmp, "console_helper.py")
    with open(helper, "w") as fh:
        fh.write(CONSOLE_HELPER)
    sock = os.path.join(tmp, "console.sock")
    with open(sock, "w"):
        pass  # a stale file that the agent must remove first
    r = a.run(60, [("a", sys.executable), ("a", helper), ("a", sock), ("s", sock), ("e", PATH)],
              stdin=b"ping\n", eof=True)
    t.check("console socket: terminal output arrives as STDOUT", b"hello console" in r["out"]
            and b"got: ping" in r["out"] and b"helper stdout" in r["out"] and r["exit"] == (0, 0), r)
    t.check("console socket: the socket file is removed", not os.path.exists(sock))
    r = a.run(61, [("a", "true"), ("s", sock), ("e", PATH)])
    t.check("console socket never used: EXIT, socket file removed", r["exit"] == (0, 0)
            and not os.path.exists(sock), r)

    # --- mounts ---
    if os.geteuid() != 0:
        for name in ("MOUNT tmpfs with p: OK, mounted with its options", "the mount is usable",
                     "UMOUNT with r: OK, unmounted, dir removed", "UMOUNT of a missing dir: ERROR ENOENT",
                     "MOUNT of an unknown fs type: ERROR ENODEV"):
            t.skip(name, "not root")
    else:
        target = os.path.join(tmp, "m", "deep")
        a.send(frame(MOUNT, 70, tags(("s", "tmpfs"), ("t", target), ("f", "tmpfs"), ("o", "size=1m,mode=0700"),
                                     ("p", ""))))
        f = a.take_id(70)
        mounted = [l.split() for l in open("/proc/self/mounts") if l.split()[1] == target]
        t.check("MOUNT tmpfs with p: OK, mounted with its options", f == (OK, 70, b"") and len(mounted) == 1
                and mounted[0][2] == "tmpfs" and "size=1024k" in mounted[0][3].split(",")
                and (os.stat(target).st_mode & 0o7777) == 0o700, (f, mounted))
        r = a.run(71, sh("echo x > '%s/f' && cat '%s/f'" % (target, target)))
        t.check("the mount is usable", r["out"] == b"x\n" and r["exit"] == (0, 0), r)
        a.send(frame(UMOUNT, 72, tags(("t", target), ("r", ""))))
        f = a.take_id(72)
        t.check("UMOUNT with r: OK, unmounted, dir removed", f == (OK, 72, b"") and not mounts_under(target)
                and not os.path.exists(target) and os.path.isdir(os.path.dirname(target)), f)
        a.send(frame(UMOUNT, 73, tags(("t", target))))
        f = a.take_id(73)
        t.check("UMOUNT of a missing dir: ERROR ENOENT", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "ENOENT", f)
        a.send(frame(MOUNT, 74, tags(("t", tmp), ("f", "no-such-fs"))))
        f = a.take_id(74)
        t.check("MOUNT of an unknown fs type: ERROR ENODEV", f and f[0] == ERROR and parse_tags(f[2]).get("c") == "ENODEV"
                and not mounts_under(tmp), f)

    # --- bad input ---
    a.errors()
    a.send(b"hello garbage\x00\xff" + b"BR\x99\x00" + bytes(range(12)))
    ok = a.ping(0x601)
    errs = a.errors()
    t.check("garbage: ERROR EBADFRAME, then PING still answered", ok and errs
            and all(e.get("c") == "EBADFRAME" for e in errs), errs)

    good = frame(PING, 0x602, b"x")
    a.send(frame(PING, 1, b"abc", crc_fix=1234) + good)
    f = a.take(lambda f: f[0] == PONG and f[1] == 0x602)
    errs = a.errors()
    t.check("bad CRC: EBADFRAME, next frame answered", f and [e.get("c") for e in errs] == ["EBADFRAME"], errs)

    a.send(b"BR\x02\x00" + struct.pack("<II", 1, 1 << 20) + b"\0" * 4 + frame(PING, 0x603))
    f = a.take(lambda f: f[0] == PONG and f[1] == 0x603)
    errs = a.errors()
    t.check("oversized length: EBADFRAME, next frame answered", f and [e.get("c") for e in errs] == ["EBADFRAME"], errs)

    a.send(frame(0x55, 1, b"zz") + frame(PING, 0x604))
    f = a.take(lambda f: f[0] == PONG and f[1] == 0x604)
    errs = a.errors()
    t.check("unknown type: EBADFRAME, next frame answered", f and [e.get("c") for e in errs] == ["EBADFRAME"], errs)

    # A header promising 100 bytes, only 10 sent, then a valid PING inside its span.
    t0 = time.monotonic()
    a.send(frame(PING, 0x605, b"y" * 100)[:26] + frame(PING, 0x606, b"inner"))
    f = a.take(lambda f: f[0] == PONG and f[1] == 0x606, 5)
    took = time.monotonic() - t0
    errs = a.errors()
    t.check("truncated frame: ETRUNCATED after ~2 s, swallowed frame answered",
            f and f[2] == b"inner" and [e.get("c") for e in errs] == ["ETRUNCATED"] and 1.5 < took < 3.5,
            (errs, took))

    # --- fuzz: garbage, bad and truncated frames, random requests, some of
    # them aimed at live processes (a pipe cat, a pty cat, a sleep) ---
    live = {3000: [("a", "cat")], 3001: [("a", "cat"), ("t", "24x80")], 3002: [("a", "sleep"), ("a", "30")]}
    for fid, items in live.items():
        a.send(frame(EXEC, fid, tags(*items, ("e", PATH))))
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "1234")))
    blob = bytearray()
    for _ in range(int(os.environ.get("FUZZ_ROUNDS", "600"))):
        k = rng.random()
        fid = rng.randrange(2998, 3008)
        if k < 0.25:
            blob += rng.randbytes(rng.randrange(1, 300))
        elif k < 0.4:
            blob += b"BR" + rng.randbytes(rng.randrange(0, 30))
        elif k < 0.75:
            ftype = rng.choice([PING, STDIN, STDIN_EOF, SIGNAL, RESIZE, rng.randrange(256)])
            if ftype in (EXEC, MOUNT, UMOUNT):
                ftype = PING
            pay = rng.randbytes(rng.choice([0, 1, 3, 4, 5, rng.randrange(0, 600)]))
            if ftype == SIGNAL and rng.random() < 0.5:  # no SIGKILL/SIGTERM: keep them alive a while
                pay = struct.pack("<i", rng.choice([0, 18, 19, 28, 64, 65, -1, 2 ** 31 - 1]))
            blob += frame(ftype, fid, pay)
        elif k < 0.9:
            # EXEC of nothing runnable, with random other tags
            items = [("a", "/nonexistent/fuzz")]
            for _ in range(rng.randrange(5)):
                items.append((rng.choice("ctne"), rng.randbytes(rng.randrange(0, 12)).replace(b"\0", b"")))
            pay = tags(*items)
            blob += frame(EXEC, fid, pay if rng.random() < 0.8 else pay[:-1])
        else:
            fr = frame(PING, 7, rng.randbytes(rng.randrange(0, 50)))
            blob += fr[:rng.randrange(1, len(fr))]
    for i in range(0, len(blob), 4096):
        a.send(bytes(blob[i:i + 4096]))
    ok = a.ping(0x700, b"after fuzz", timeout=8)
    t.check("fuzz: %d random bytes, agent survives and answers" % len(blob), ok and a.proc.poll() is None)
    for fid in live:
        a.send(frame(SIGNAL, fid, struct.pack("<i", 9)))
    exits = {fid: a.take(lambda f, fid=fid: f[0] == EXIT and f[1] == fid, 5) for fid in live}
    t.check("fuzz: every live process still reports one EXIT", all(exits.values()), exits)
    a.frames.clear()

    ok = a.ping(0x701)
    t.check("ACK counts every byte sent", ok and a.last_ack == a.sent % (1 << 32), (a.last_ack, a.sent))


# --- `berth-agent layer-tar DIR`: an OCI layer from an overlay upper dir ---

ZERO_BLOCK = b"\0" * 512


def parse_pax(body):
    """PAX records: {key: value bytes}; raises ValueError on a bad record."""
    recs, off = {}, 0
    while off < len(body):
        sp = body.index(b" ", off)
        n = int(body[off:sp])
        rec = body[sp + 1:off + n]
        if n <= 0 or off + n > len(body) or not rec.endswith(b"\n") or b"=" not in rec:
            raise ValueError("bad PAX record at %d: %r" % (off, body[off:off + 60]))
        k, v = rec[:-1].split(b"=", 1)
        recs[k.decode()] = v
        off += n
    return recs


def raw_tar_entries(data):
    """The entries of a tar stream read straight from its 512-byte blocks:
    [{"name", "type", "pax", "body"}], PAX 'x' headers applied to the entry
    after them. Raises ValueError on any framing fault: checksum (and its
    "%06o\\0 " form), ustar magic and version, non-empty uname/gname, non-zero
    padding, a stream that does not end in exactly two zero blocks."""
    off, out, pax = 0, [], None
    if len(data) % 512:
        raise ValueError("length %d is not a multiple of 512" % len(data))
    while True:
        blk = data[off:off + 512]
        if len(blk) < 512:
            raise ValueError("no end-of-archive blocks")
        if blk == ZERO_BLOCK:
            if pax is not None:
                raise ValueError("PAX header before the end")
            if data[off:] != ZERO_BLOCK * 2:
                raise ValueError("after the first zero block at %d: %d more bytes, not one zero block"
                                 % (off, len(data) - off - 512))
            return out
        chk = sum(blk[:148]) + 8 * 32 + sum(blk[156:])
        if blk[148:156] != b"%06o\0 " % chk:
            raise ValueError("bad checksum at %d: %r, want %o" % (off, blk[148:156], chk))
        if blk[257:265] != b"ustar\x0000":
            raise ValueError("bad magic/version at %d: %r" % (off, blk[257:265]))
        if blk[265:329].strip(b"\0") or blk[345:500].strip(b"\0"):
            raise ValueError("uname/gname/prefix not empty at %d" % off)
        typ = blk[156:157]
        size = int(blk[124:135] or b"0", 8)
        if typ != b"x" and pax and "size" in pax:
            size = int(pax["size"])
        end = off + 512 + size
        padded = off + 512 + (size + 511) // 512 * 512
        if padded > len(data) or data[end:padded].strip(b"\0"):
            raise ValueError("entry at %d: data cut short or padding not zero" % off)
        body = data[off + 512:end]
        off = padded
        if typ == b"x":
            if pax is not None:
                raise ValueError("two PAX headers in a row")
            pax = parse_pax(body)
            continue
        name = pax.get("path") if pax and "path" in pax else blk[:100].rstrip(b"\0")
        out.append({"name": name.decode("utf-8", "surrogateescape"), "type": typ.decode(),
                    "pax": pax or {}, "body": body})
        pax = None


def layer_tar(agent_path, *args, stdout=subprocess.PIPE):
    return subprocess.run([agent_path, "layer-tar"] + list(args), stdout=stdout,
                          stderr=subprocess.PIPE, timeout=30)


# A v2 file capability: cap_net_bind_service permitted, effective.
CAP_XATTR = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)


def layer_tar_tree(up):
    """The upper dir of the main layer-tar test; returns (what it needs
    that this machine refused: {"mknod": reason, "xattr": reason}, the
    random content of big.bin, the long names)."""
    refused = {}
    long_file = "long/" + "d" * 60 + "/" + "f" * 60 + ".txt"
    long_dir = "long/" + "e" * 120
    long_target = "/" + "t" * 150

    def mk(rel, content=b"", mode=0o644):
        full = os.path.join(up, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(content)
        os.chmod(full, mode)
        return full

    for d in ("a/b", "bin", "etc", "run/secrets", "sbin", "tmp", "opq", "redir", "dev", long_dir):
        os.makedirs(os.path.join(up, d), exist_ok=True)
    big = random.Random(5).randbytes(200003)  # > 64 KiB (the agent's buffer), not a block multiple
    os.utime(mk("big.bin", big), (1234567890, 1234567890))
    mk("a/b/c.txt", b"nested\n")
    os.symlink("../etc/passwd", os.path.join(up, "a/link"))
    mk("a.txt", b"a.txt\n")  # after a/ and all under it: components compare, not whole paths
    mk("bin/busybox", b"#!busybox\n", 0o755)
    os.link(os.path.join(up, "bin/busybox"), os.path.join(up, "bin/sh"))
    os.link(os.path.join(up, "bin/busybox"), os.path.join(up, "sbin/init"))
    mk("bin/ping", b"ping\n", 0o755)
    mk("bin/su", b"su\n", 0o4755)
    mk("bin/wall", b"wall\n", 0o2755)
    os.chmod(mk("caf\u00e9", b"utf-8 name\n"), 0o600)
    mk("empty")
    mk("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    mk("etc/hosts", b"127.0.0.1 localhost\n")  # excluded as /etc/hosts
    mk("run/secrets/token", b"secret\n")  # excluded as ./run/secrets/
    mk(long_file, b"long name\n")
    os.symlink(long_target, os.path.join(up, "long/ltarget"))
    os.utime(mk("old", b"old\n"), (-86400, -86400))
    os.lchown(mk("owned", b"owned\n"), 1234, 5678)
    os.lchown(mk("bigowner", b"big ids\n"), 3000000, 4000000)
    mk("opq/kept", b"kept\n")
    os.mkfifo(os.path.join(up, "run/fifo"), 0o600)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.path.join(up, "run/sock"))  # left out of the layer
    sock.close()
    os.chmod(os.path.join(up, "tmp"), 0o1777)
    nodes = [("etc/gone", stat.S_IFCHR | 0o600, 0, 0), ("zz-deleted", stat.S_IFCHR | 0o600, 0, 0),
             ("dev/null", stat.S_IFCHR | 0o666, 1, 3), ("dev/loop0", stat.S_IFBLK | 0o660, 7, 0)]
    try:
        for rel, mode, major, minor in nodes:
            os.mknod(os.path.join(up, rel), mode, os.makedev(major, minor))
            os.chmod(os.path.join(up, rel), mode & 0o777)  # mknod's mode went through the umask
    except OSError as e:
        refused["mknod"] = "cannot mknod in %s: %s" % (up, e.strerror)
        for rel, _, _, _ in nodes:  # all or none, so the expected names are one of two lists
            if os.path.lexists(os.path.join(up, rel)):
                os.unlink(os.path.join(up, rel))
    xattrs = [("opq", "trusted.overlay.opaque", b"y"), ("redir", "trusted.overlay.redirect", b"/elsewhere"),
              ("bin/ping", "security.capability", CAP_XATTR)]
    try:
        for rel, name, value in xattrs:
            os.setxattr(os.path.join(up, rel), name, value)
    except OSError as e:
        refused["xattr"] = "cannot set trusted.*/security.capability xattrs in %s: %s" % (up, e.strerror)
        for rel, name, _ in xattrs:
            try:
                os.removexattr(os.path.join(up, rel), name)
            except OSError:
                pass
    return refused, big, long_file, long_dir, long_target


def layer_tar_tests(t, agent_path):
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="berth-layer-tar."))
    try:
        if os.geteuid() != 0:
            t.skip("layer-tar: the tree of every kind of entry (chown, mknod, xattrs)", "not root")
        else:
            layer_tar_main_tests(t, agent_path, tmp)
        layer_tar_error_tests(t, agent_path, tmp)
    except Exception as e:
        import traceback
        traceback.print_exc()
        t.check("layer-tar: harness ran to the end", False, repr(e))
    finally:
        left = unmount_under(tmp)
        t.check("layer-tar: no mounts left under its temp dir", not left, left)
        shutil.rmtree(tmp, ignore_errors=True)


def layer_tar_main_tests(t, agent_path, tmp):
    up = os.path.join(tmp, "up")
    os.mkdir(up)
    refused, big, long_file, long_dir, long_target = layer_tar_tree(up)
    nodes, xattrs = "mknod" not in refused, "xattr" not in refused

    r = layer_tar(agent_path, "--exclude", "/etc/hosts", "--exclude", "./run/secrets/", up)
    out = r.stdout
    t.check("layer-tar: exit 0, nothing on stderr", r.returncode == 0 and r.stderr == b"", (r.returncode, r.stderr))
    try:
        ents, framing = raw_tar_entries(out), None
    except ValueError as e:
        ents, framing = [], str(e)
    t.check("layer-tar: raw framing: 512-byte blocks, checksums, ustar magic, no uname/gname, "
            "zero padding, exactly two zero blocks at the end", framing is None and ents, framing)

    # "?N" and "?X": only if this machine let the test make device nodes / set xattrs
    want = ["?N.wh.zz-deleted", "a/", "a/b/", "a/b/c.txt", "a/link", "a.txt", "big.bin", "bigowner",
            "bin/", "bin/busybox", "bin/ping", "bin/sh", "bin/su", "bin/wall", "caf\u00e9",
            "dev/", "?Ndev/loop0", "?Ndev/null", "empty", "etc/", "?Netc/.wh.gone", "etc/passwd",
            "long/", "long/" + "d" * 60 + "/", long_file, long_dir + "/", "long/ltarget", "old",
            "opq/", "?Xopq/.wh..wh..opq", "opq/kept", "owned", "redir/", "run/", "run/fifo",
            "sbin/", "sbin/init", "tmp/"]
    want = [w[2:] if w.startswith("?") else w for w in want
            if not w.startswith("?") or {"?N": nodes, "?X": xattrs}[w[:2]]]
    names = [e["name"] for e in ents]
    t.check("layer-tar: names relative, dirs with '/', sorted by component, whiteouts as .wh.NAME, "
            "opaque marker after its dir; excluded paths and the socket left out", names == want,
            [(i, a, b) for i, (a, b) in enumerate(zip(names + [None] * 99, want + [None] * 99)) if a != b][:5])

    by = {e["name"]: e for e in ents}
    paxed = {n: sorted(e["pax"]) for n, e in by.items() if e["pax"]}
    want_pax = {long_file: ["path"], long_dir + "/": ["path"], "long/ltarget": ["linkpath"],
                "bigowner": ["gid", "uid"], "old": ["mtime"]}
    if xattrs:
        want_pax["bin/ping"] = ["SCHILY.xattr.security.capability"]
    t.check("layer-tar: PAX records exactly where ustar cannot hold a value (path, linkpath, uid, gid, mtime)",
            paxed == want_pax, paxed)
    t.check("layer-tar: PAX values", by.get(long_file, {}).get("pax", {}).get("path") == long_file.encode()
            and by.get("long/ltarget", {}).get("pax", {}).get("linkpath") == long_target.encode()
            and by.get("bigowner", {}).get("pax", {}).get("uid") == b"3000000"
            and by.get("bigowner", {}).get("pax", {}).get("gid") == b"4000000"
            and by.get("old", {}).get("pax", {}).get("mtime") == b"-86400", paxed)

    try:
        tf = tarfile.open(fileobj=io.BytesIO(out), mode="r:")
        members = {m.name: m for m in tf.getmembers()}  # tarfile drops a dir's trailing "/"
    except (tarfile.TarError, ValueError) as e:
        tf, members = None, {}
        t.check("layer-tar: Python's tarfile reads the stream", False, repr(e))

    def m(name):
        return members.get(name) or tarfile.TarInfo("<missing %s>" % name)

    def content(name):
        f = tf.extractfile(members[name]) if tf and name in members else None
        return f.read() if f else None

    t.check("layer-tar: tarfile reads every entry", len(members) == len(want) and tf is not None, sorted(members))
    t.check("layer-tar: types", all(m(n).type == ty for n, ty in [
        ("a", tarfile.DIRTYPE), ("a/b/c.txt", tarfile.REGTYPE), ("a/link", tarfile.SYMTYPE),
        ("bin/sh", tarfile.LNKTYPE), ("sbin/init", tarfile.LNKTYPE), ("bin/busybox", tarfile.REGTYPE),
        ("run/fifo", tarfile.FIFOTYPE), ("long/ltarget", tarfile.SYMTYPE), ("empty", tarfile.REGTYPE)]),
        [(n, v.type) for n, v in members.items()])
    t.check("layer-tar: modes incl. setuid/setgid/sticky", [m(n).mode for n in (
        "bin/su", "bin/wall", "tmp", "bin/busybox", "etc", "run/fifo", "caf\u00e9", "a/link")] ==
        [0o4755, 0o2755, 0o1777, 0o755, 0o755, 0o600, 0o600, 0o777],
        {n: oct(v.mode) for n, v in members.items()})
    t.check("layer-tar: uid/gid (PAX past the octal field), uname/gname empty",
            (m("owned").uid, m("owned").gid, m("bigowner").uid, m("bigowner").gid, m("etc/passwd").uid) ==
            (1234, 5678, 3000000, 4000000, 0) and all(v.uname == "" and v.gname == "" for v in members.values()),
            [(n, v.uid, v.gid) for n, v in members.items()])
    st = os.lstat(os.path.join(up, "etc/passwd"))
    t.check("layer-tar: mtime in seconds (PAX when negative)",
            (m("big.bin").mtime, m("old").mtime, m("etc/passwd").mtime) == (1234567890, -86400, int(st.st_mtime)),
            (m("big.bin").mtime, m("old").mtime))
    t.check("layer-tar: content of regular files (empty, > 64 KiB, long name, UTF-8 name)",
            content("big.bin") == big and content("empty") == b"" and content(long_file) == b"long name\n"
            and content("a/b/c.txt") == b"nested\n" and content("caf\u00e9") == b"utf-8 name\n"
            and m("big.bin").size == len(big))
    t.check("layer-tar: symlink targets as they are, hard links to the first path",
            (m("a/link").linkname, m("long/ltarget").linkname, m("bin/sh").linkname, m("sbin/init").linkname,
             m("bin/sh").size) == ("../etc/passwd", long_target, "bin/busybox", "bin/busybox", 0),
            (m("a/link").linkname, m("bin/sh").linkname, m("sbin/init").linkname))

    def empty_marker(name):
        v = m(name)
        return (v.type, v.size, v.mode, v.uid, v.gid, v.mtime) == (tarfile.REGTYPE, 0, 0, 0, 0, 0)

    if nodes:
        t.check("layer-tar: char 0:0 whiteouts: empty regular files .wh.NAME, mode 0, 0:0, mtime 0 (as containerd)",
                empty_marker(".wh.zz-deleted") and empty_marker("etc/.wh.gone"),
                [(v.name, v.type, v.mode, v.mtime) for v in members.values() if ".wh." in v.name])
        t.check("layer-tar: char and block devices with major/minor",
                (m("dev/null").type, m("dev/null").devmajor, m("dev/null").devminor, m("dev/null").mode,
                 m("dev/loop0").type, m("dev/loop0").devmajor, m("dev/loop0").devminor) ==
                (tarfile.CHRTYPE, 1, 3, 0o666, tarfile.BLKTYPE, 7, 0),
                [(v.name, v.type, v.devmajor, v.devminor, oct(v.mode)) for v in members.values() if "dev/" in v.name])
    else:
        for name in ("layer-tar: char 0:0 whiteouts", "layer-tar: char and block devices"):
            t.skip(name, refused["mknod"])
    if xattrs:
        t.check("layer-tar: opaque dir: its entry, then an empty DIR/.wh..wh..opq (mode 0, 0:0, mtime 0)",
                empty_marker("opq/.wh..wh..opq") and m("opq").type == tarfile.DIRTYPE)
        cap = m("bin/ping").pax_headers.get("SCHILY.xattr.security.capability", "")
        t.check("layer-tar: security.capability as PAX SCHILY.xattr (binary value intact)",
                by.get("bin/ping", {}).get("pax", {}).get("SCHILY.xattr.security.capability") == CAP_XATTR
                and cap.encode("utf-8", "surrogateescape") == CAP_XATTR, cap)
        t.check("layer-tar: other trusted.overlay.* xattrs leave no trace", b"trusted.overlay" not in out
                and b"elsewhere" not in out and "redir/.wh..wh..opq" not in names)
    else:
        for name in ("layer-tar: opaque dir", "layer-tar: security.capability", "layer-tar: other trusted.overlay.*"):
            t.skip(name, refused["xattr"])

    r2 = layer_tar(agent_path, "--exclude", "/etc/hosts", "--exclude", "./run/secrets/", up)
    t.check("layer-tar: the same tree gives the same bytes", r2.returncode == 0 and r2.stdout == out)
    r3 = layer_tar(agent_path, "--exclude", "etc", "--exclude", "long//" + "d" * 60, up)
    names3 = [e["name"] for e in raw_tar_entries(r3.stdout)] if r3.returncode == 0 else []
    t.check("layer-tar: --exclude DIR leaves out all under it", names3 and not [
        n for n in names3 if n.startswith("etc/") or n.startswith("long/d")] and "long/ltarget" in names3, names3)

    # Stdout closed by the reader: no exit 0 with a cut stream.
    p = subprocess.Popen([agent_path, "layer-tar", up], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(512)
    p.stdout.close()
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    p.stderr.close()
    t.check("layer-tar: reader gone mid-stream: non-zero exit", rc != 0, rc)


def layer_tar_error_tests(t, agent_path, tmp):
    missing = os.path.join(tmp, "no-such-dir")
    r = layer_tar(agent_path, missing)
    t.check("layer-tar: missing DIR: exit 1, nothing on stdout, stderr names it",
            r.returncode == 1 and r.stdout == b"" and missing.encode() in r.stderr
            and b"No such file or directory" in r.stderr, (r.returncode, r.stderr))
    r = layer_tar(agent_path)
    r2 = layer_tar(agent_path, "--exclude", "../x", tmp)
    r3 = layer_tar(agent_path, "--bogus", tmp)
    t.check("layer-tar: usage errors exit 2 (no DIR, --exclude outside DIR, unknown option)",
            (r.returncode, r2.returncode, r3.returncode) == (2, 2, 2) and b"usage" in r.stderr
            and r.stdout == r2.stdout == r3.stdout == b"", (r.returncode, r2.returncode, r3.returncode))

    # A file whose size does not hold while it is read: bind mounts of files
    # whose stat size lies (procfs: 0, sysfs: 4096).
    grow_src = "/proc/version"
    shrink_src = None
    for f in ("/sys/devices/system/cpu/online", "/sys/kernel/mm/transparent_hugepage/enabled",
              "/sys/kernel/profiling"):
        try:
            if 0 < len(open(f, "rb").read()) < os.stat(f).st_size:
                shrink_src = f
                break
        except OSError:
            pass
    for kind, src, word in (("grew", grow_src, b"grew"), ("shrank", shrink_src, b"shrank")):
        name = "layer-tar: a file that %s while read: exit 1, stderr names it" % kind
        d = os.path.join(tmp, kind)
        os.makedirs(d)
        target = os.path.join(d, "f")
        with open(target, "w"):
            pass
        if src is None:
            t.skip(name, "no sysfs file with a size larger than its content")
            continue
        mr = subprocess.run(["mount", "--bind", src, target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if mr.returncode != 0:
            t.skip(name, "cannot bind-mount %s: %s" % (src, mr.stdout.decode(errors="replace").strip()))
            continue
        r = layer_tar(agent_path, d)
        subprocess.run(["umount", target])
        t.check(name, r.returncode == 1 and word in r.stderr and target.encode() in r.stderr, (r.returncode, r.stderr))


# --- `docker` in the guest: client sessions ---

def client_env(sock, **extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BERTH_DOCKER_SOCKET": sock,
           "TERM": "xterm-test", "DOCKER_HOST": "unix:///x", "DOCKER_CONFIG": "/cfg", "HOME": "/root",
           "NOT_DOCKER_X": "no"}
    env.update(extra)
    return env


def start_client(bindir, sock, args, stdin=subprocess.DEVNULL, **kw):
    return subprocess.Popen([os.path.join(bindir, "docker")] + args, env=client_env(sock), stdin=stdin,
                            stdout=kw.pop("stdout", subprocess.PIPE), stderr=kw.pop("stderr", subprocess.PIPE), **kw)


def take_open(a, pred=lambda tl: True, timeout=5.0):
    """The next CLIENT_OPEN (whose tag list matches pred): (session id, tag list)."""
    f = a.take(lambda f: f[0] == C_OPEN and pred(tag_list(f[2])), timeout)
    return (f[1], tag_list(f[2])) if f else (None, [])


def argv_of(tl):
    return [v for k, v in tl if k == "a"]


def wait_exit(p, timeout=5.0):
    if p.stdin and p.stdin.closed:
        p.stdin = None
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return "hung", out, err


def client_tests(t, a, agent_path, tmp, sock):
    bindir = os.path.join(tmp, "bin")
    os.mkdir(bindir)
    os.symlink(agent_path, os.path.join(bindir, "docker"))
    a.frames.clear()
    t.check("docker socket listening, mode 0666", os.path.exists(sock)
            and (os.stat(sock).st_mode & 0o777) == 0o666, oct(os.stat(sock).st_mode) if os.path.exists(sock) else None)

    # One session: OPEN with argv/cwd/env tags, output, exit status.
    args = ["run", "--rm", "alpine", "echo", "hi there", ""]
    p = start_client(bindir, sock, args, cwd=tmp)
    sid, tl = take_open(a)
    env = sorted(v for k, v in tl if k == "e")
    t.check("client: CLIENT_OPEN with argv, cwd, TERM and DOCKER_* env, no t/o on pipes",
            sid is not None and argv_of(tl) == args and ("c", tmp) in tl
            and env == ["DOCKER_CONFIG=/cfg", "DOCKER_HOST=unix:///x", "TERM=xterm-test"]
            and not [k for k, _ in tl if k in "to"], (hex(sid or 0), tl))
    t.check("client: session id has the high bit set", sid is not None and sid & SESSION_BIT, sid)
    t.check("client: stdin not read before CLIENT_WANT_STDIN", a.take_id(sid, 0.3) is None, a.frames)
    a.send(frame(C_WANT_STDIN, sid, b""))
    f = a.take_id(sid)
    t.check("client: after CLIENT_WANT_STDIN, stdin /dev/null gives CLIENT_STDIN_EOF", f and f[0] == C_STDIN_EOF, f)
    a.send(frame(C_STDOUT, sid, b"hello\n") + frame(C_STDERR, sid, b"oops\n") + frame(C_EXIT, sid, struct.pack("<i", 3)))
    rc, out, err = wait_exit(p)
    t.check("client: prints CLIENT_STDOUT/STDERR, exits with CLIENT_EXIT 3", (rc, out, err) == (3, b"hello\n", b"oops\n"),
            (rc, out, err))
    t.check("client: no hangup reported after a clean EXIT", a.ping() and a.take_id(sid, 0.2) is None, a.frames)

    # stdin passthrough, in chunks of at most 16 KiB, then EOF.
    data = b"line one\n" + random.Random(3).randbytes(100000)
    p = start_client(bindir, sock, ["exec", "-i", "c1", "cat"], stdin=subprocess.PIPE)
    sid, tl = take_open(a)
    a.send(frame(C_WANT_STDIN, sid, b"") + frame(C_WANT_STDIN, sid, b""))  # twice: harmless
    p.stdin.write(data)
    p.stdin.close()
    got, sizes, f = b"", [], None
    while True:
        f = a.take_id(sid)
        if not f or f[0] != C_STDIN:
            break
        got += f[2]
        sizes.append(len(f[2]))
    t.check("client: stdin arrives as CLIENT_STDIN (<= 16 KiB each), then CLIENT_STDIN_EOF",
            got == data and max(sizes) <= 16384 and f and f[0] == C_STDIN_EOF, (len(got), sizes[:5], f and f[0]))
    a.send(frame(C_EXIT, sid, struct.pack("<i", 0)))
    rc, _, _ = wait_exit(p)
    t.check("client: EXIT 0", rc == 0, rc)

    # Stdin the command never asked for stays for the next reader (docker without -i).
    r, w = os.pipe()
    os.write(w, b"for the shell\n")
    p = start_client(bindir, sock, ["ps"], stdin=r)
    sid, _ = take_open(a)
    a.send(frame(C_EXIT, sid, struct.pack("<i", 0)))
    rc, _, _ = wait_exit(p)
    os.close(w)
    left = os.read(r, 100)
    os.close(r)
    t.check("client: unasked stdin left unread for the next reader", rc == 0 and left == b"for the shell\n", (rc, left))

    # Big output to a client, then EXIT: all of it is written before the close.
    p = start_client(bindir, sock, ["logs", "big"])
    sid, _ = take_open(a)
    big = random.Random(4).randbytes(1 << 20)
    for i in range(0, len(big), 65536):
        a.send(frame(C_STDOUT, sid, big[i:i + 65536]))
    a.send(frame(C_EXIT, sid, struct.pack("<i", 256)))
    rc, out, _ = wait_exit(p, 10)
    t.check("client: 1 MiB of output intact; status out of range exits 255", out == big and rc == 255,
            (len(out), rc))

    # Two clients at once.
    p1 = start_client(bindir, sock, ["ps", "one"], stdin=subprocess.PIPE)
    p2 = start_client(bindir, sock, ["ps", "two"], stdin=subprocess.PIPE)
    s1, _ = take_open(a, lambda tl: argv_of(tl) == ["ps", "one"])
    s2, _ = take_open(a, lambda tl: argv_of(tl) == ["ps", "two"])
    a.send(frame(C_STDOUT, s2, b"for two\n") + frame(C_STDOUT, s1, b"for one\n"))
    a.send(frame(C_EXIT, s2, struct.pack("<i", 22)) + frame(C_EXIT, s1, struct.pack("<i", 11)))
    r1, r2 = wait_exit(p1), wait_exit(p2)
    t.check("two clients: different session ids, each gets its own replies",
            s1 and s2 and s1 != s2 and s1 & s2 & SESSION_BIT and r1[:2] == (11, b"for one\n")
            and r2[:2] == (22, b"for two\n"), (s1, s2, r1, r2))
    a.frames = [f for f in a.frames if f[1] not in (s1, s2)]

    # A client killed mid-session: the host hears SIGHUP, then end of stdin.
    p = start_client(bindir, sock, ["attach", "x"], stdin=subprocess.PIPE)
    sid, _ = take_open(a)
    p.kill()
    p.wait()
    f1, f2 = a.take_id(sid), a.take_id(sid)
    t.check("client killed: CLIENT_SIGNAL 1 then CLIENT_STDIN_EOF for its session",
            f1 == (C_SIGNAL, sid, struct.pack("<i", 1)) and f2 == (C_STDIN_EOF, sid, b""), (f1, f2))
    p.stdin.close()

    # Frames for sessions that do not exist (any more) are dropped silently.
    a.send(frame(C_STDOUT, sid, b"late") + frame(C_STDOUT, SESSION_BIT | 0xfffff, b"x")
           + frame(C_EXIT, 12345, struct.pack("<i", 0)) + frame(C_RAW, sid, b"\1"))
    t.check("CLIENT_* for unknown sessions ignored, PING still answered", a.ping() and not a.errors()
            and a.proc.poll() is None, a.frames)

    # Misbehaving clients are dropped; the agent carries on.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(b"this is not a frame at all")
    s.settimeout(5)
    try:
        closed = s.recv(100) == b""
    except OSError as e:
        closed = repr(e)
    s.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(frame(C_OPEN, 0, tags(("a", "raw"))) + frame(C_STDOUT, 0, b"not a client type"))
    sid, tl = take_open(a, lambda tl: argv_of(tl) == ["raw"])
    f1, f2 = a.take_id(sid), a.take_id(sid)
    s.close()
    t.check("bad client frames: client dropped (host told SIGHUP if opened), agent fine",
            closed is True and f1 and f1[0] == C_SIGNAL and f2 and f2[0] == C_STDIN_EOF
            and a.ping() and not a.errors(), (closed, f1, f2))

    # No socket.
    missing = os.path.join(tmp, "no", "such.sock")
    p = subprocess.Popen([os.path.join(bindir, "docker"), "ps"], env=client_env(missing),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rc, out, err = wait_exit(p)
    t.check("client without engine: message and exit 125", rc == 125 and err ==
            ("docker: cannot connect to the Berth engine at %s: No such file or directory\n" % missing).encode(),
            (rc, err))

    # The agent dies mid-session.
    sock2 = os.path.join(tmp, "docker2.sock")
    a2 = Agent(agent_path, docker_socket=sock2)
    try:
        a2.take(lambda f: f[0] == HELLO, 5)
        p = start_client(bindir, sock2, ["run", "x"], stdin=subprocess.PIPE)
        sid2, _ = take_open(a2)
        a2.proc.kill()
        rc, out, err = wait_exit(p)
        p.stdin.close()
        t.check("agent dies: client prints lost connection, exits 125", sid2 and rc == 125
                and err == b"docker: lost connection to the Berth engine\n", (sid2, rc, err))
    finally:
        a2.proc.kill()
        a2.proc.wait()
        a2.close()

    pty_client_test(t, a, bindir, sock)
    # (also reads every pending ACK: a close with unread data would be ECONNRESET for the agent)
    t.check("agent answers PING after the client tests", a.ping() and a.proc.poll() is None)


def pty_client_test(t, a, bindir, sock):
    """The client on a terminal: t and o tags, raw mode on request, SIGWINCH
    and SIGINT forwarded."""
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    cooked = termios.tcgetattr(slave)
    p = subprocess.Popen([os.path.join(bindir, "docker"), "run", "-it", "alpine"], env=client_env(sock),
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    try:
        sid, tl = take_open(a)
        t.check("pty client: CLIENT_OPEN has t ROWSxCOLS and o", ("t", "30x100") in tl and ("o", "") in tl, tl)

        os.kill(p.pid, signal.SIGINT)
        f = a.take(lambda f: f[1] == sid and f[0] == C_SIGNAL)
        time.sleep(0.2)
        t.check("pty client: SIGINT while not raw -> CLIENT_SIGNAL 2, client still running",
                f and struct.unpack("<i", f[2])[0] == 2 and p.poll() is None, (f, p.poll()))

        def lflag_wait(want_canon):
            end = time.monotonic() + 5
            while time.monotonic() < end:
                if bool(termios.tcgetattr(slave)[3] & termios.ICANON) == want_canon:
                    return True
                time.sleep(0.02)
            return False

        a.send(frame(C_WANT_STDIN, sid, b"") + frame(C_RAW, sid, b"\1"))
        raw = lflag_wait(False)
        attrs = termios.tcgetattr(slave)
        t.check("pty client: CLIENT_RAW 1 makes the terminal raw", raw and not attrs[3] & termios.ECHO, attrs[3])

        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        f = a.take(lambda f: f[1] == sid and f[0] == C_RESIZE)
        t.check("pty client: resize -> CLIENT_RESIZE with the new size", f and struct.unpack("<HH", f[2]) == (40, 120), f)

        os.write(master, b"x\x03")  # ^C is a byte while raw
        got = b""
        while len(got) < 2:
            f = a.take(lambda f: f[1] == sid and f[0] in (C_STDIN, C_SIGNAL))
            if not f or f[0] != C_STDIN:
                break
            got += f[2]
        t.check("pty client: raw stdin passes ^C through as a byte", got == b"x\x03", (got, f))

        a.send(frame(C_RAW, sid, b"\0"))
        restored = lflag_wait(True)
        t.check("pty client: CLIENT_RAW 0 restores the terminal", restored and termios.tcgetattr(slave) == cooked)

        a.send(frame(C_RAW, sid, b"\1") + frame(C_STDOUT, sid, b"pty out\r\n") + frame(C_EXIT, sid, struct.pack("<i", 0)))
        rc, _, _ = wait_exit(p)
        out = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
        t.check("pty client: output on the terminal, EXIT restores it and exits 0",
                rc == 0 and b"pty out" in out and termios.tcgetattr(slave) == cooked, (rc, out))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
        os.close(slave)
        a.frames = [f for f in a.frames if f[1] < SESSION_BIT]


if __name__ == "__main__":
    main()
