"""Build the configured backend and run the daemon in the foreground (`spacesd run`)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from pathlib import Path

from spacesd import systemd
from spacesd.daemon.backend import Backend
from spacesd.daemon.embedded import EmbeddedBackend
from spacesd.daemon.server import Daemon, Settings

log = logging.getLogger("spacesd")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s spacesd[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def make_backend(name: str, config: object | None) -> Backend:
    """The backend called `name`. The SpacetimeDB one comes from spacesd.stdb.backend's
    `create_backend(config) -> Backend`."""
    identity_name = getattr(config, "identity_name", None)
    if name == "embedded":
        return EmbeddedBackend(agent_name=identity_name)
    if name == "spacetimedb":
        try:
            module = importlib.import_module("spacesd.stdb.backend")
        except ImportError as e:
            raise RuntimeError(f"the spacetimedb backend is not available: {e}") from e
        factory = getattr(module, "create_backend", None)
        if factory is None:
            raise RuntimeError("spacesd.stdb.backend has no create_backend(config)")
        backend = factory(config)
        if not isinstance(backend, Backend):
            raise RuntimeError("spacesd.stdb.backend.create_backend did not return a Backend")
        return backend
    raise RuntimeError(f"unknown backend {name!r} (embedded or spacetimedb)")


def run_daemon(*, backend: str | None = None, socket_path: Path | None = None,
               verbose: bool = False) -> int:
    """Run until SIGTERM/SIGINT. Returns the process exit code."""
    setup_logging(verbose)
    from spacesd.config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as e:
        log.error("configuration: %s", e)
        return 2
    for warning in config.warnings:
        log.warning("configuration: %s", warning)
    name = backend or config.backend
    settings = Settings(channel=config.channel or None, config=config,
                        socket_path=socket_path or config.socket,
                        listener=None if socket_path else systemd.inherited_unix_listener())
    if settings.listener is not None:
        log.info("serving the socket handed over by systemd")
    try:
        chosen = make_backend(name, config)
        daemon = Daemon(chosen, settings)
        asyncio.run(daemon.run())
    except RuntimeError as e:
        log.error("%s", e)
        return 1
    except KeyboardInterrupt:
        return 0
    except OSError as e:
        # The machine, not a bug: a folder that cannot be made or written, a full disk. One
        # line naming the file (`-v` adds the traceback).
        log.error("cannot run: %s", e, exc_info=verbose)
        return 1
    except Exception:
        log.exception("spacesd failed")
        return 1
    return 0
