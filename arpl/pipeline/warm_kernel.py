"""Warm kernels: a stage notebook's Jupyter kernel forked from a process that has already imported torch.

Every stage of ``dvc repro`` is a new process with a new kernel, which imports ipykernel, torch and pandas before
its first cell: 2-3 s of each stage on two cores. A *kernel server* imports them once and forks a kernel per stage:

- jupyter_client launches this file as a script (the *proxy*, standard library only) instead of
  ``python -m ipykernel_launcher``, with the same arguments.
- The proxy connects to the server of its environment, starting one if none answers. Its Unix socket is named by a
  hash of the Python executable, this file and every environment variable (:data:`VOLATILE_ENV` aside): torch, MKL
  and OpenMP read variables on import (``run.portable_kernels`` sets some), so a kernel never comes from a server
  that imported them under other settings.
- It sends its arguments, directory, environment, ``sys.path``, umask and standard streams; the server forks, and the
  child becomes the kernel as ``ipykernel_launcher`` would have made it, with those.
- The proxy stands in for the kernel towards jupyter_client: it forwards signals and exits with the kernel's code;
  when the proxy is killed (the runner kills the kernel after the last cell), the server kills the kernel.
- The server imports no ``arpl`` (the next kernel sees an edit) and no matplotlib (which reads the kernel's
  ``MPLBACKEND`` on import). It exits after :data:`IDLE_S` seconds without a kernel.

``ARPL_WARM_KERNELS=0`` starts every kernel cold, as does any system but Linux and any failure to reach a server.
A warm kernel computes what a cold one does (tests/test_warm_kernel.py, docs/notebooks.md).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]   # run as a script: its folder (arpl/pipeline, with a profile.py) must not shadow any module

import contextlib
import hashlib
import json
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

SWITCH = "ARPL_WARM_KERNELS"   # "0": start every kernel cold
PRELOAD = ("torch", "pandas", "ipykernel.kernelapp")   # what every stage's kernel imports, seconds of it
NEVER_PRELOADED = ("arpl", "matplotlib")
# Set per kernel, stage, experiment, repository, test or shell, and read by nothing at import time: they do not
# choose the server (the kernel gets them all).
VOLATILE_ENV = ("JPY_PARENT_PID", "JPY_SESSION_NAME", "DVC_STAGE", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV",
                "PYTEST_CURRENT_TEST", "PWD", "OLDPWD", "SHLVL", "_")
IDLE_S = 60.0       # a server with no kernel for this long exits
START_S = 120.0     # the longest a proxy waits for a new server's imports
MAX_SOCKET_PATH = 100


def enabled() -> bool:
    """Whether kernels of this process's notebooks come warm from a server (Linux, unless ``ARPL_WARM_KERNELS=0``)."""
    return sys.platform.startswith("linux") and os.environ.get(SWITCH, "1") != "0"


def kernel_argv(argv: list[str]) -> list[str]:
    """A kernel spec's ``argv`` made warm: ``python -m ipykernel_launcher ARGS`` becomes ``python warm_kernel.py ARGS``
    (the proxy) when :func:`enabled`; any other kernel's ``argv`` is returned as it is."""
    pythons = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}",
               sys.executable}
    native = len(argv) >= 3 and argv[0] in pythons and argv[1:3] == ["-m", "ipykernel_launcher"]
    if not (enabled() and native):
        return list(argv)
    return [sys.executable, os.path.realpath(__file__), *argv[3:]]


def server_address(environ: dict | None = None) -> Path:
    """The Unix socket of the server for this Python and ``environ`` (default: this process's environment)."""
    environ = os.environ if environ is None else environ
    chosen = sorted((name, value) for name, value in environ.items() if name not in VOLATILE_ENV)
    identity = json.dumps([sys.executable, sys.version, Path(__file__).read_text(), _installed_versions(), chosen])
    key = hashlib.sha256(identity.encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"arpl-kernels-{os.getuid()}" / f"{key}.sock"


def _installed_versions() -> list:
    """When each preloaded package was installed (its ``__init__.py``'s time): a reinstalled torch gets a new
    server rather than kernels with the old one in memory."""
    import importlib.util

    found = (importlib.util.find_spec(name.partition(".")[0]) for name in PRELOAD)
    return [os.stat(spec.origin).st_mtime_ns if spec and spec.origin else None for spec in found]


# The proxy: what jupyter_client starts and watches.

def run_proxy(arguments: list[str]) -> None:
    """Become a warm kernel's proxy (see the module's docstring), or a cold kernel if no server can be had."""
    connection = _connect_or_start(server_address())
    if connection is None:
        _become_cold_kernel(arguments)
    umask = os.umask(0o077)
    os.umask(umask)
    request = {"argv": arguments, "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path, "umask": umask}
    replies = _Replies(connection)
    try:
        _send_request(connection, request)
        kernel = int(replies.next(block=True)["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        connection.close()
        _become_cold_kernel(arguments)   # the server went away before it forked: nothing was started
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, lambda received, _frame: _forward(kernel, received))
    parent = os.getppid()
    while True:
        reply = replies.next(block=False)
        if reply is not None:
            sys.exit(reply["exit"] if reply else 1)   # {}: the server died
        if os.getppid() != parent:   # whoever started the kernel died without stopping it
            _forward(kernel, signal.SIGKILL)
            sys.exit(1)


class _Replies:
    """The server's one-line JSON replies to a proxy: the kernel's pid, then its exit code."""

    def __init__(self, connection: socket.socket):
        self.connection, self.pending = connection, b""

    def next(self, block: bool) -> dict | None:
        """The next reply; ``{}`` if the server closed the connection; None if none came within a second
        (``block=False``)."""
        import select

        while b"\n" not in self.pending:
            if not block and not select.select([self.connection], [], [], 1.0)[0]:
                return None
            part = self.connection.recv(4096)
            if not part:
                return {}
            self.pending += part
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)


def _become_cold_kernel(arguments: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *arguments])


def _forward(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _connect(address: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(address))
    except OSError:
        connection.close()
        return None
    return connection


def start_server() -> None:
    """Start the server of this process's environment in the background unless one runs already, and return at
    once (the pipeline's first stage calls it, so that the first notebook's kernel is warm too)."""
    if enabled():
        connection = _connect_or_start(server_address(), wait=False)
        if connection is not None:
            connection.close()


def _connect_or_start(address: Path, wait: bool = True) -> socket.socket | None:
    """A connection to the server at ``address``, starting one if none answers (and, with ``wait``, waiting for
    it); None if there is none to connect to."""
    try:
        if len(str(address)) > MAX_SOCKET_PATH or not _private_folder(address.parent):
            return None
        connection = _connect(address)
        if connection is not None:
            return connection
        server = _start(address)
    except OSError:
        return None
    if not wait:
        return None
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        connection = _connect(address)
        if connection is not None:
            return connection
        if server.poll() is not None:   # it failed, or another server took the address first
            return _connect(address)
        time.sleep(0.02)
    return None


def _start(address: Path) -> subprocess.Popen:
    with open(address.with_suffix(".log"), "ab") as log:
        return subprocess.Popen([sys.executable, os.path.realpath(__file__), "--serve", str(address)],
                                cwd=address.parent, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)


def _private_folder(folder: Path) -> bool:
    """Create ``folder`` readable by this user only; False if it exists and another user could reach it (anyone
    who can connect to a server can run code as this user)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = folder.stat()
    return status.st_uid == os.getuid() and status.st_mode & 0o077 == 0


def _send_request(connection: socket.socket, request: dict) -> None:
    body = json.dumps(request).encode()
    socket.send_fds(connection, [struct.pack("!I", len(body))], [0, 1, 2])
    connection.sendall(body)


def _receive_request(connection: socket.socket) -> tuple[dict, list[int]]:
    header, streams, _flags, _address = socket.recv_fds(connection, 4, 3)
    if len(header) != 4 or len(streams) != 3:
        raise ConnectionError("a proxy sent no request")
    size, body = struct.unpack("!I", header)[0], b""
    while len(body) < size:
        part = connection.recv(size - len(body))
        if not part:
            raise ConnectionError("a proxy's request was cut short")
        body += part
    return json.loads(body), streams


# The server: imports once, forks a kernel per request.

def serve(address: Path) -> None:
    """Serve warm kernels at ``address`` until :data:`IDLE_S` seconds pass without one (or return at once if
    another server holds the address)."""
    import importlib
    import select
    import threading

    listening = _listen(address)
    if listening is None:
        return
    listener, stamp = listening
    try:
        for name in PRELOAD:
            importlib.import_module(name)
        if threading.active_count() != 1:   # native ones (numpy's OpenBLAS) shut down and restart around a fork
            raise RuntimeError(f"importing {PRELOAD} started Python threads, which a forked kernel would lack")
        imported = sorted({name.split(".")[0] for name in sys.modules} & set(NEVER_PRELOADED))
        if imported:
            raise RuntimeError(f"importing {PRELOAD} imported {imported}, which each kernel must import itself")
        wake_read, wake_write = socket.socketpair()
        wake_write.setblocking(False)
        signal.set_wakeup_fd(wake_write.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)   # a kernel's exit wakes the select below
        kernels: dict[socket.socket, int] = {}
        idle_since = time.monotonic()
        while kernels or time.monotonic() - idle_since < IDLE_S:
            readable, _, _ = select.select([listener, wake_read, *kernels], [], [], 1.0)
            for ready in readable:
                if ready is wake_read:
                    wake_read.recv(4096)
                elif ready is listener:
                    _start_kernel(listener, kernels, [wake_read, wake_write])
                elif _closed(ready):   # its proxy is gone (killed after the last cell)
                    _forward(kernels[ready], signal.SIGKILL)
            if _reap(kernels):
                idle_since = time.monotonic()
    finally:
        _unlisten(listener, address, stamp)


def _listen(address: Path) -> tuple[socket.socket, tuple] | None:
    """A socket listening at ``address`` and its file's :func:`_stamp`, or None if a live server holds it."""
    import fcntl

    with open(address.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        other = _connect(address)
        if other is not None:
            other.close()
            return None
        address.unlink(missing_ok=True)   # a dead server's socket
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(address))
        listener.listen(64)
        return listener, _stamp(address)


def _stamp(path: Path) -> tuple:
    """What tells one file from a later one at the same path (a deleted file's inode number is reused)."""
    status = path.stat()
    return status.st_dev, status.st_ino, status.st_ctime_ns


def _unlisten(listener: socket.socket, address: Path, stamp: tuple) -> None:
    """Close ``listener`` and remove its socket file, unless a newer server's file took its place."""
    import fcntl

    with open(address.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if address.exists() and _stamp(address) == stamp:
            address.unlink()
        listener.close()


def _start_kernel(listener: socket.socket, kernels: dict, own: list[socket.socket]) -> None:
    connection, _ = listener.accept()
    try:
        request, streams = _receive_request(connection)
    except (OSError, ValueError):
        connection.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        for inherited in (listener, *own, *kernels):
            inherited.close()
        connection.close()
        _run_kernel(request, streams)
    for stream in streams:
        os.close(stream)
    kernels[connection] = pid
    try:
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    except OSError:   # the proxy died meanwhile
        _forward(pid, signal.SIGKILL)


def _closed(connection: socket.socket) -> bool:
    try:
        return not connection.recv(1)
    except OSError:
        return True


def _reap(kernels: dict) -> bool:
    """Report each kernel that exited to its proxy; whether any did."""
    reaped = False
    for connection, pid in list(kernels.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            with contextlib.suppress(OSError):   # the proxy may be gone already
                connection.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
            connection.close()
            del kernels[connection]
            reaped = True
    return reaped


def _run_kernel(request: dict, streams: list[int]) -> None:
    """In the forked child: take the proxy's streams, directory, environment and path, run the kernel as
    ``ipykernel_launcher`` would, then exit without returning into the server's loop."""
    import atexit

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, stream in enumerate(streams):
        os.dup2(stream, target)
        os.close(stream)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environb.clear()   # a separate copy of the same variables: each sets them again, the same
    os.environb.update((os.fsencode(name), os.fsencode(value)) for name, value in request["env"].items())
    sys.path[:] = request["path"]
    sys.argv = [sys.argv[0], *request["argv"]]
    _forget_the_server()
    code = 0
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _forget_the_server() -> None:
    """Redo in the kernel what the preloaded modules took from the server when imported: multiprocessing's start
    directory (a spawned worker's ``''`` on ``sys.path``, so that it imports modules from the kernel's directory)
    and its authentication key (each kernel its own, as a new process has)."""
    import multiprocessing.process

    multiprocessing.process.ORIGINAL_DIR = os.path.abspath(os.getcwd())
    multiprocessing.process.current_process().authkey = os.urandom(32)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(Path(sys.argv[2]))
    else:
        run_proxy(sys.argv[1:])
