"""`spacesd owner passphrase`, and reading the owner passphrase from the terminal.

The passphrase is read only from the controlling terminal (/dev/tty, echo off): never from
argv, the environment or standard input, so a script or an agent's non-interactive shell, which
has no terminal, cannot supply it, and a person sees each request for it (docs/roles.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
from collections.abc import Iterator

import click

from spacesd import owner

MAX_LINE = owner.MAX_LENGTH + 2


class NoTerminal(Exception):
    """There is no controlling terminal to ask a person on."""


@contextlib.contextmanager
def _tty() -> Iterator[int]:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as e:
        raise NoTerminal(str(e)) from None
    try:
        if not os.isatty(fd):
            raise NoTerminal("/dev/tty is not a terminal")
        yield fd
    finally:
        os.close(fd)


def read_secret(prompt: str) -> str:
    """One line typed at the controlling terminal, not echoed. NoTerminal without one."""
    with _tty() as fd:
        old = termios.tcgetattr(fd)
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ECHO
        # Echo off (and typed-ahead input dropped) before the prompt: what answers it is
        # typed after it, and never shown.
        termios.tcsetattr(fd, termios.TCSAFLUSH, new)
        os.write(fd, prompt.encode())
        try:
            line = b""
            while not line.endswith(b"\n") and len(line) < MAX_LINE:
                chunk = os.read(fd, 1)
                if not chunk:
                    break
                line += chunk
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)
            os.write(fd, b"\n")
    return line.decode("utf-8", "replace").rstrip("\r\n")


def no_terminal_line(what: str) -> str:
    return (f"spacesd: {what} needs a person at a terminal (no /dev/tty here): the owner "
            "passphrase is never read from arguments, the environment or a pipe")


def ask_owner_passphrase(action: str) -> str:
    """The owner passphrase for `action`, typed by a person; exits 1 without a terminal."""
    try:
        return read_secret(f"spacesd: owner passphrase to {action}: ")
    except NoTerminal:
        click.echo(no_terminal_line("--as-owner"), err=True)
        sys.exit(1)


@click.group("owner")
def owner_group() -> None:
    """The hub owner's authority on this machine (docs/roles.md)."""


@owner_group.command("passphrase")
def passphrase() -> None:
    """Set (or change) the owner passphrase, at a terminal. `spacesd call --as-owner` asks
    for it each time; it is stored only as a salted scrypt hash (0600)."""
    path = owner.passphrase_file()
    try:
        stored = owner.load_hash(path)
        if stored is not None:
            current = read_secret("Current owner passphrase: ")
            try:
                right = owner.verify(current, stored)
            except ValueError:
                right = True  # an unreadable file: the person at the terminal replaces it
            if not right:
                click.echo("spacesd: wrong owner passphrase; nothing changed", err=True)
                sys.exit(1)
        new = read_secret("New owner passphrase: ")
        weak = owner.too_weak(new)
        if weak is not None:
            click.echo(f"spacesd: {weak}; nothing changed", err=True)
            sys.exit(1)
        if read_secret("Again: ") != new:
            click.echo("spacesd: the two passphrases differ; nothing changed", err=True)
            sys.exit(1)
    except NoTerminal:
        click.echo(no_terminal_line("`spacesd owner passphrase`"), err=True)
        sys.exit(1)
    owner.store_hash(path, new)
    click.echo(f"owner passphrase set ({path}, a salted scrypt hash)")
