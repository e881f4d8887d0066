"""Child side of the code sandbox: confine this process tree, then run the untrusted program.

Executed as a script with `python -I -B` (stdlib only, nothing from the package is imported). The job
arrives as JSON on stdin. As root it unshares mount, network and pid namespaces, covers private dirs
(/tmp, /root, /home, ...) with fresh tmpfs (re-binding the Python install), forks a root init (pid 1 of the
new pid namespace) that forks the program under a per-sandbox uid, with rlimits. When pid 1 exits, the kernel kills
everything it forked. Without root it falls back to rlimits, a temp cwd and a socket guard.
Success is reported by writing the parent's nonce to the result fd, so `os._exit(0)` is not a pass.
"""

import ctypes
import json
import os
import resource
import signal
import sys
import time

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x40000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
UID_BASE = 1_000_000
LIBC = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(LIBC.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _hide_private_dirs(job):
    """Fresh tmpfs over every private dir; the Python install is bound back so imports keep working."""
    keep = [p for p in job["keep_paths"] if os.path.isdir(p)]
    keep_fds = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in keep]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for path in job["hide_paths"]:
        if os.path.isdir(path) and not os.path.islink(path):
            size = job["tmpfs_mb"] if path == "/tmp" else 1
            mode = "1777" if path == "/tmp" else "755"
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode={mode}")
    for path, fd in zip(keep, keep_fds):
        if not (os.path.isdir(path) and os.listdir(path)):  # hidden by a tmpfs above: bind it back
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def _set_limits(job):
    cpu = int(job["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = job["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    size = job["file_size_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NPROC, (job["nproc"], job["nproc"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges(uid, workdir):
    os.makedirs(workdir, exist_ok=True)
    os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # credentials change cleared it; set it again


def _guard_sockets():
    """Best-effort network block when no network namespace is available (non-root)."""
    import socket

    def refuse(*args, **kwargs):
        raise PermissionError("network access is disabled in the sandbox")

    for name in ("connect", "connect_ex", "bind", "sendto"):
        setattr(socket.socket, name, refuse)
    socket.create_connection = refuse


def _environment(workdir):
    os.environ.clear()
    os.environ.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    os.chdir(workdir)


def _execute(job, result_fd):
    """Run program (+ test) in a fresh __main__ namespace; write `nonce runtime` on success."""
    source = job["program"] + ("\n\n" + job["test"] if job.get("test") else "")
    nonce = job.pop("nonce").encode()
    start = time.perf_counter()
    try:
        exec(compile(source, "<program>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        ok = True
    except SystemExit as exc:
        ok = job["stdio"] and exc.code in (None, 0)  # stdio programs may exit(0) once they printed
    except BaseException:  # any failure of untrusted code is a failed test
        ok = False
    runtime = time.perf_counter() - start
    try:
        sys.stdout.flush()
    except Exception:
        ok = ok and not job["stdio"]
    if ok:
        os.write(result_fd, nonce + f" {runtime:.6f}\n".encode())
    os._exit(0 if ok else 1)


def _run_confined(job, uid, isolated):
    workdir = "/tmp/work" if isolated else job["fallback_workdir"]
    if job.get("stdin") is not None:
        read_fd, write_fd = os.pipe()
        data = job["stdin"].encode()
        if len(data) > 60_000:  # larger than a pipe buffer: hand it over through a file instead
            path = "/tmp/.stdin" if isolated else os.path.join(workdir, ".stdin")
            with open(path, "wb") as handle:
                handle.write(data)
            os.close(write_fd)
            os.close(read_fd)
            read_fd = os.open(path, os.O_RDONLY)
            os.unlink(path)
        else:
            os.write(write_fd, data)
            os.close(write_fd)
        os.dup2(read_fd, 0)
        os.close(read_fd)
        sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # the old one saw the job's EOF
    _set_limits(job)
    if isolated:
        _drop_privileges(uid, workdir)
    else:
        _guard_sockets()
    _environment(workdir)
    _execute(job, job["result_fd"])


def _try_unshare():
    if os.geteuid() != 0:
        return False
    return LIBC.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) == 0


def main():
    job = json.loads(sys.stdin.buffer.read())
    uid = UID_BASE + os.getpid()
    isolated = job["isolate"] and _try_unshare()
    if not isolated:
        _run_confined(job, uid, isolated=False)
    _hide_private_dirs(job)
    _exit_like(_fork_and_wait(lambda: _namespace_init(job, uid)))


def _fork_and_wait(child):
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(1)
    return os.waitpid(pid, 0)[1]


def _exit_like(status):
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _namespace_init(job, uid):
    """pid 1 of the namespace stays root, so the program cannot signal its parent; its exit kills the rest."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _exit_like(_fork_and_wait(lambda: _run_confined(job, uid, isolated=True)))


if __name__ == "__main__":
    main()
