"""Pre-imported kernel "zygote": fork kernels instead of starting interpreters.

A batch runs many kernels that all import the same heavy stack (IPython, numpy, pandas,
scipy.stats, statsmodels, matplotlib, seaborn: about 3 s of CPU per kernel). Each runner worker
starts one zygote process that imports that stack once and then *forks* a kernel per report, so
the imports are shared copy-on-write (the idea behind Android's zygote and gunicorn's preload).

jupyter_client still sees an ordinary child process: the kernel command is replaced by a tiny
launcher (:data:`LAUNCHER`, ``python -I -S``, ~20 ms) that asks the zygote over a private Unix
socket to fork a kernel with the launcher's argv, cwd, environment and stdio, forwards signals
(SIGINT interrupts, SIGTERM) to it and exits with the kernel's exit status; if the zygote
cannot serve, the launcher execs the ordinary ``python -m ipykernel_launcher`` instead. When the launcher dies
(even by SIGKILL) the zygote kills the kernel; when the worker that started the launcher dies,
the launcher kills its kernel; when the runner dies the zygote kills every kernel, removes its
socket folder and exits. The zygote runs in its own session, so a terminal Ctrl-C reaches the
runner alone (which then stops everything in order).

Safety rules for forking: the zygote is single-threaded (checked before each fork; BLAS pools
are pinned to one thread), never imports ``matplotlib_inline.backend_inline`` (the inline
backend must register its hooks inside the kernel's own shell), and each child reseeds numpy's
legacy global RNG so unseeded notebooks do not share random streams. POSIX only; the runner falls
back to normal kernel starts elsewhere or when the zygote fails.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Sequence

__all__ = ["DEFAULT_PRELOAD", "LAUNCHER", "Zygote", "serve"]

#: Modules imported once per worker; missing ones are skipped.
DEFAULT_PRELOAD = (
    "ipykernel.kernelapp",
    "numpy",
    "pandas",
    "scipy.stats",
    "statsmodels.api",
    "matplotlib.pyplot",
    "seaborn",
    "abtest",
)
_INLINE = "module://matplotlib_inline.backend_inline"

#: Source of the launcher run as ``python -I -S -c LAUNCHER SOCKET ARGS...``.
LAUNCHER = r"""
import json, os, signal, socket, struct, sys
try:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    req = json.dumps({"argv": sys.argv[2:], "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    socket.send_fds(sock, [struct.pack("!I", len(req))], [0, 1, 2])
    sock.sendall(req)
    reply = sock.makefile("rb")
    pid = int(reply.readline())
except (OSError, ValueError):  # zygote gone or refused: become an ordinary kernel instead
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *sys.argv[2:]])
def forward(sig, frame):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(sig, forward)
import select
parent = os.getppid()
while not select.select([reply], [], [], 0.5)[0]:
    if os.getppid() != parent:  # the worker died (e.g. SIGKILL): take the kernel with us
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(1)
line = reply.readline().strip()
code = int(line) if line else 1
if code < 0:
    try:
        signal.signal(-code, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


_PARENT = [os.getppid()]


def _preload(modules: Sequence[str]) -> list[str]:
    os.environ["MPLBACKEND"] = _INLINE  # what ipykernel sets before any user import
    # pyarrow's bundled jemalloc starts a background thread; a zygote must stay single-threaded
    os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    loaded = []
    for name in modules:
        if os.getppid() != _PARENT[0]:  # the runner is gone: serve() exits right away
            break
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # an optional module missing or broken: the kernel imports it itself
            continue
    sys.modules.pop("matplotlib_inline.backend_inline", None)
    return loaded


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - not Linux
        import threading

        return threading.active_count()


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    header, fds, _, _ = socket.recv_fds(conn, 4, 3)
    (size,) = struct.unpack("!I", header)
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("launcher closed the socket")
        data += chunk
    return json.loads(data), fds


def _become_kernel(request: dict, fds: list[int], keep: Sequence[int]) -> None:
    """In the forked child: take the launcher's stdio, env, cwd and argv, run ipykernel."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in (*fds, *keep):
            with contextlib.suppress(OSError):
                os.close(fd)
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        del sys.path[0]  # the zygote's own entry; ipykernel_launcher drops it the same way
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # fresh entropy: no shared unseeded stream
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        if os.environ.get("JPY_PARENT_PID", "").isdigit():
            # IPKernelApp read JPY_PARENT_PID when the zygote imported it (unset then); without
            # it the kernel believes it runs from a terminal and prints its connection banner.
            sys.argv.append(f"--IPKernelApp.parent_handle={os.environ['JPY_PARENT_PID']}")
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(path: str, modules: Sequence[str] = DEFAULT_PRELOAD) -> None:
    """Preload ``modules``, listen on Unix socket ``path`` and fork a kernel per request.

    Serves while the runner (``_PARENT``: its pid from the command line) is its parent."""
    parent = _PARENT[0]  # the runner: it may die while we preload
    _preload(modules)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    server.listen(16)
    os.rename(path + ".tmp", path)  # appears only once it accepts connections
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # runs the finally below
    kernels: dict[socket.socket, int] = {}
    try:
        while os.getppid() == parent:
            ready, _, _ = select.select([server, wake_r, *kernels], [], [], 1.0)
            for item in ready:
                if item is server:
                    conn, _ = server.accept()
                    try:
                        request, fds = _recv_request(conn)
                    except (OSError, ValueError, struct.error):
                        conn.close()
                        continue
                    if _threads() != 1:  # forking a threaded process is unsafe: refuse
                        conn.close()
                        for fd in fds:
                            os.close(fd)
                        continue
                    pid = os.fork()
                    if pid == 0:
                        _become_kernel(request, fds, [server.fileno(), wake_r, wake_w, conn.fileno(),
                                                      *(c.fileno() for c in kernels)])
                    for fd in fds:
                        os.close(fd)
                    conn.sendall(f"{pid}\n".encode())
                    kernels[conn] = pid
                elif item == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    for conn, pid in list(kernels.items()):
                        done, status = os.waitpid(pid, os.WNOHANG)
                        if done:
                            with contextlib.suppress(OSError):
                                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
                            conn.close()
                            del kernels[conn]
                elif item in kernels:  # the launcher closed its end (it exited or was killed)
                    pid = kernels.pop(item)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, 0)
                    item.close()
    finally:
        for pid in kernels.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.unlink(path)


class Zygote:
    """Handle on a zygote process started by the runner (kernels are forked from it)."""

    def __init__(self, modules: Sequence[str] = DEFAULT_PRELOAD) -> None:
        import subprocess
        import tempfile

        self.folder = tempfile.mkdtemp(prefix="abtest-zygote-")  # private (0700)
        self.socket = os.path.join(self.folder, "zygote.sock")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "abtest.report.zygote", self.socket, ",".join(modules),
             str(os.getpid())],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @staticmethod
    def available() -> bool:
        """Forking kernels needs POSIX fork and fd passing over Unix sockets."""
        return os.name == "posix" and hasattr(socket, "send_fds") and hasattr(os, "fork")

    def stop(self) -> None:
        """Terminate the zygote (it kills any kernel still running) and remove its folder."""
        import shutil
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _main(argv: Sequence[str]) -> None:
    modules = argv[1].split(",") if len(argv) > 1 and argv[1] else DEFAULT_PRELOAD
    if len(argv) > 2 and argv[2].isdigit():
        _PARENT[0] = int(argv[2])
    try:
        serve(argv[0], modules)
    except BaseException:
        with contextlib.suppress(OSError):  # tell workers to start kernels the normal way
            open(os.path.join(os.path.dirname(argv[0]), "failed"), "w").close()
        raise
    finally:
        folder = os.path.dirname(argv[0])
        if os.path.basename(folder).startswith("abtest-zygote-") and os.getppid() != _PARENT[0]:
            import shutil  # the runner is gone (killed): nobody else will remove the folder

            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(0)  # skip tearing down the preloaded modules


if __name__ == "__main__":
    _main(sys.argv[1:])
