"""Build the configured backend and run the daemon in the foreground (`spacesd run`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spacesd import systemd
from spacesd.daemon.backend import Backend
from spacesd.daemon.embedded import EmbeddedBackend
from spacesd.daemon.server import Daemon, Settings

if TYPE_CHECKING:
    from spacesd.config import Config

log = logging.getLogger("spacesd")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s spacesd[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def make_backend(name: str, config: Config) -> Backend:
    """The backend called `name`, configured by `config`."""
    if name == "embedded":
        return EmbeddedBackend(agent_name=config.identity_name)
    if name == "spacetimedb":
        # Imported here: the SpacetimeDB client (websockets) loads only when it is chosen.
        try:
            from spacesd.daemon.spacetimedb import create_backend
        except ImportError as e:
            raise RuntimeError(f"the spacetimedb backend is not available: {e}") from e
        return create_backend(config)
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
    settings = Settings(channel=config.channel, config=config,
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
