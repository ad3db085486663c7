"""The redaction corpora (tests/corpus/) and the contexts a secret is put in.

`secrets()` are the synthetic secrets of tests/corpus/secrets.jsonl (made by make_secrets.py);
`contexts(s)` puts one in each of the five contexts the gate is measured in; `ordinary()` are
the lines of tests/corpus/ordinary.txt that must come through untouched. Used by the tests and
by bench/bench_redact.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
CONTEXTS = ("bare", "cli", "env", "sentence", "json")


@dataclass(frozen=True)
class Secret:
    kind: str
    env: str
    value: str


def secrets() -> list[Secret]:
    out = []
    for line in (CORPUS / "secrets.jsonl").read_text().splitlines():
        d = json.loads(line)
        out.append(Secret(d["kind"], d["env"], d["secret"]))
    return out


def ordinary() -> list[str]:
    return (CORPUS / "ordinary.txt").read_text().splitlines()


def handwritten_count() -> int:
    """How many lines ordinary.txt begins with that were written by hand: code and prose that
    name passwords, tokens and keys without holding one (make_ordinary.HANDWRITTEN)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_ordinary", CORPUS / "make_ordinary.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return len([ln for ln in module.HANDWRITTEN.strip("\n").splitlines() if ln.strip()])


# Each context has several forms; secret i takes form i % len(forms), so every kind is seen in
# more than one. {s} is the secret, {env} the variable it is kept in, {key} its lower-case name.
_FORMS: dict[str, tuple[str, ...]] = {
    "bare": ("{s}",),
    "cli": (
        "curl -sS -H 'Authorization: Bearer {s}' https://api.example.com/v1/me",
        "./deploy.sh --token {s} --region eu-west-1",
        "echo {s} | docker login ghcr.io -u octocat --password-stdin",
        "kubectl create secret generic app --from-literal={key}={s}",
        "gh secret set {env} --body {s}",
        "mytool login --api-key={s}",
        "curl -X POST https://api.example.com/hooks \\\n  -u ci:{s} -d @payload.json",
        "aws configure set aws_secret_access_key {s}",
        "vault kv put secret/app {key}={s}",
        "python scripts/check.py {s}",
    ),
    "env": (
        "{env}={s}",
        "export {env}=\"{s}\"",
        "Note: {env}={s}",
        "env: {env}={s}",
        "  {env}: {s}",
        "docker run --rm -e {env}={s} app:latest",
        "{env}='{s}' make release",
    ),
    "sentence": (
        "I rotated it, the new value is {s} and the deploy works again.",
        "Here is what you asked for: {s}",
        "Fixed the webhook by pasting {s} into the settings page.",
        "Use {s} for staging until Friday, then revoke it.",
        "The CI job failed because {s} had expired.",
    ),
    "json": (
        "{{\"{key}\": \"{s}\"}}",
        "{{\"name\": \"prod\", \"credentials\": {{\"value\": \"{s}\"}}}}",
        "{{\"headers\": {{\"Authorization\": \"Bearer {s}\"}}}}",
        "{{\"args\": [\"--verbose\", \"{s}\"], \"cwd\": \"/srv/app\"}}",
        "{{\"env\": {{\"{env}\": \"{s}\"}}}}",
    ),
}


def contexts(secret: Secret, index: int) -> dict[str, str]:
    """`secret` in each context, form `index % len(forms)` (JSON with its value escaped)."""
    out = {}
    for name, forms in _FORMS.items():
        form = forms[index % len(forms)]
        value = secret.value
        if name == "json":
            value = json.dumps(value)[1:-1]
        out[name] = form.format(s=value, env=secret.env, key=secret.env.lower())
    return out


def caught(secret: Secret, text: str) -> bool:
    """The secret is gone from `text`: neither it nor (for a multi-line one) any of its lines
    of 16 characters or more, nor its JSON-escaped form, is left."""
    value = secret.value
    if value in text or json.dumps(value)[1:-1] in text:
        return False
    return not any(len(part) >= 16 and part in text for part in value.splitlines()[1:-1])
