"""The child side of the strategy-code sandbox: runs one strategy and exits.

Started by :mod:`alphaloop.sandbox.run` as ``python -I -S child.py
NUMPY_PARENT_DIR``; it imports only the standard library and numpy (never
alphaloop), so it runs as a script without the package on its path.

Protocol (both directions): an 8-byte big-endian length, a JSON header of
that length, then ``.npy`` payloads whose byte sizes the header lists.
Request header: ``{"code", "arrays": [[name, nbytes], ...], "cpu_seconds",
"memory_mb"}``. Reply header: ``{"status": "ok" | "error" | "violation" |
"limit" | "output", ...}``; an ``ok`` reply carries one array, the raw result.

Order of events, so that nothing the strategy runs precedes the defences:

1. import numpy and the submodules it would otherwise load lazily;
2. read the request from stdin;
3. set resource limits: CPU seconds, address space (memory used so far plus
   ``memory_mb``), no core files, file size 0, at most 3 file descriptors,
   no new processes; close every descriptor above 2; then compile the code
   (nothing of it runs yet);
4. install an audit hook that ends the process on *any* audited event
   (``open``, ``import``, ``socket.*``, ``subprocess.Popen``, ``os.system``,
   ``os.exec``, ``os.fork``, ``ctypes.*``, ``sys._getframe``, ``compile``,
   ``exec``, ...): after step 2 a strategy has no legitimate reason to
   raise one;
5. run the module code with restricted builtins, call ``signal`` and reply.
"""

import os
import sys

EXIT_REFUSED = 3
_ALLOWED_BUILTINS = """
abs all any bool dict divmod enumerate filter float int isinstance len list map max min pow
range reversed round set slice sorted str sum tuple zip ArithmeticError IndexError KeyError
RuntimeError TypeError ValueError ZeroDivisionError
"""


def _frame(header, payloads=()):
    import json
    import struct

    head = json.dumps(header).encode()
    return struct.pack(">Q", len(head)) + head + b"".join(payloads)


def _write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


_REPORTING = []  # non-empty once the strategy has finished: its traceback may then be read
_TRACEBACK_READS = ("tb_frame", "f_code")


def _refuse(event, args):
    """The audit hook: any audited event after arming ends the process with a reply.

    The one exception: once the strategy has finished, reading a traceback's
    frame and code (to report the line of the strategy's error).
    """
    if (
        _REPORTING
        and event == "object.__getattr__"
        and args[1:2] in [(n,) for n in _TRACEBACK_READS]
    ):
        return
    detail = ""
    if args and isinstance(args[0], str | bytes | int):
        detail = f" ({str(args[0])[:120]})"
    _write_all(_frame({"status": "violation", "event": event + detail}))
    os._exit(EXIT_REFUSED)


def _read_request(np):
    import io
    import json
    import struct

    chunks = []
    while chunk := os.read(0, 1 << 20):
        chunks.append(chunk)
    raw = b"".join(chunks)
    (size,) = struct.unpack(">Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    arrays, offset = {}, 8 + size
    for name, nbytes in header["arrays"]:
        buffer = io.BytesIO(raw[offset : offset + nbytes])
        arrays[name] = np.lib.format.read_array(buffer, allow_pickle=False)
        offset += nbytes
    return header, arrays


def _set_limits(cpu_seconds, memory_mb):
    import math
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with open("/proc/self/statm", "rb") as statm:
        vsize = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    memory = vsize + int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    os.closerange(3, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _user_line(tb):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<strategy>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _namespace(np, math):
    """The strategy's globals: numpy as np, math, and only the allowed builtins."""
    import builtins

    modules = {"numpy": np, "math": math}

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and not fromlist and name in modules:
            return modules[name]
        raise ImportError(f"import of {name} is not allowed")

    safe = {name: getattr(builtins, name) for name in _ALLOWED_BUILTINS.split()}
    safe["__import__"] = guarded_import
    return {"__builtins__": safe, "__name__": "strategy", "np": np, "math": math}


def _reply_result(np, result):
    """Send ``signal``'s value as float64 ``.npy``, or an ``output`` reply if it is not numbers."""
    import io

    try:
        array = np.asarray(result)
    except Exception as exc:
        message = f"signal returned a {type(result).__name__} numpy cannot read ({exc})"
        _write_all(_frame({"status": "output", "message": message[:500]}))
        return
    if array.dtype.kind not in "biuf":
        message = f"signal returned an array of dtype {array.dtype}, not numbers"
        _write_all(_frame({"status": "output", "message": message}))
        return
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array.astype(np.float64), allow_pickle=False)
    payload = buffer.getvalue()
    _write_all(_frame({"status": "ok", "arrays": [["result", len(payload)]]}, [payload]))


def main():
    sys.path.insert(0, sys.argv[1])
    import io
    import math
    import types
    import warnings

    import numpy as np
    import numpy.fft
    import numpy.linalg
    import numpy.ma
    import numpy.random

    np.random.default_rng(0)  # loads the generator machinery now
    header, arrays = _read_request(np)
    _set_limits(header["cpu_seconds"], header["memory_mb"])  # compiling is limited too
    try:
        code = compile(header["code"], "<strategy>", "exec")
    except SyntaxError as exc:
        _write_all(_frame({"status": "error", "type": "SyntaxError", "message": str(exc)}))
        os._exit(0)
    namespace = _namespace(np, math)
    module = types.FunctionType(code, namespace)
    sys.stdout = sys.stderr = io.StringIO()
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    sys.addaudithook(_refuse)

    try:
        module()
        signal = namespace.get("signal")
        if not isinstance(signal, types.FunctionType):
            raise TypeError("the code defines no function named 'signal'")
        close = arrays.pop("close")
        _reply_result(np, signal(close, **arrays))
    except MemoryError:
        _write_all(_frame({"status": "limit", "limit": "memory"}))
    except BaseException as exc:  # the strategy's own error: type and message only
        _REPORTING.append(True)
        line = _user_line(exc.__traceback__)
        error = {"status": "error", "type": type(exc).__name__, "message": str(exc)[:2000]}
        _write_all(_frame({**error, "line": line}))
    os._exit(0)


if __name__ == "__main__":
    main()
