"""Writes tests/corpus/ordinary.txt: one ordinary line a line (no secret in any of them) for
the redaction gate's false-positive rate. Deterministic; run from the repository root:

    python tests/corpus/make_ordinary.py

What it holds: code that names secrets without holding one (HANDWRITTEN), lines of CPython's
standard library sources (code, docstrings), commit subjects with their hashes, UUIDs and
other ids, base64 data in the shapes a transcript shows it (data URIs, integrity hashes, SSH
public keys, encoded text), paths, and log lines.
"""

from __future__ import annotations

import base64
import hashlib
import random
import sysconfig
import uuid
from pathlib import Path

HANDWRITTEN = r'''
password = getpass.getpass()
password = getpass.getpass("Password: ")
token = os.environ["GITHUB_TOKEN"]
token = os.environ.get("GITHUB_TOKEN", "")
api_key = os.getenv("OPENAI_API_KEY")
secret_key = settings.SECRET_KEY
self.password = password
self.token = token
client = Client(api_key=api_key, timeout=30)
conn = psycopg.connect(host=host, user=user, password=password)
def login(username: str, password: str) -> Session:
def __init__(self, token: str | None = None) -> None:
    password: Optional[str] = None
    token: str = ""
if not password:
assert token is not None
token = request.headers.get("Authorization", "").removeprefix("Bearer ")
password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
hashed = hashlib.sha256(secret.encode()).hexdigest()
token = jwt.encode(payload, key, algorithm="HS256")
api_key = config["api_key"]
secret = vault.read("secret/data/app")["data"]
PASSWORD_MIN_LENGTH = 12
TOKEN_EXPIRY_SECONDS = 3600
MAX_TOKENS = 4096
tokens = tokenizer.encode(text)
num_tokens = len(tokens)
let token = await getToken();
const apiKey = process.env.STRIPE_KEY;
const password = await bcrypt.hash(plain, 10);
export const TOKEN_URL = "https://oauth2.googleapis.com/token";
fn verify(password: &str, hash: &str) -> bool {
let secret = std::env::var("APP_SECRET").expect("APP_SECRET is set");
password := os.Getenv("DB_PASSWORD")
if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
export GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}
env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
password: ${DB_PASSWORD}
password: "{{ vault_db_password }}"
DB_PASSWORD=$(cat /run/secrets/db_password)
export AWS_SECRET_ACCESS_KEY="$AWS_SECRET"
echo "$DOCKER_PASSWORD" | docker login -u "$DOCKER_USER" --password-stdin
docker login --password-stdin < ~/.docker-pass
cat ~/.pw | docker login -u me --password-stdin registry.example.com
mysql -u root -p
mysql -u root -p"$MYSQL_ROOT_PASSWORD" app
kubectl create secret generic db --from-file=password=./password.txt
kubectl get secret db -o jsonpath='{.data.password}' | base64 -d
aws configure set region eu-west-1
aws configure set aws_secret_access_key "$AWS_SECRET_ACCESS_KEY"
git config --global user.email dev@example.com
curl -u "$USER:$TOKEN" https://api.example.com/v1/me
curl -H "Authorization: Bearer $TOKEN" https://api.example.com/v1/me
curl -fsSL https://example.com/install.sh | sh
ssh -i ~/.ssh/id_ed25519 -p 2222 deploy@10.0.0.12
ssh-keygen -t ed25519 -C "dev@example.com" -f ~/.ssh/id_ed25519
gpg --list-secret-keys --keyid-format=long
openssl req -x509 -newkey rsa:4096 -keyout key.pem -out cert.pem -days 365 -nodes
htpasswd -c /etc/nginx/.htpasswd admin
The token bucket refills at 10 tokens per second.
Password reset emails are sent from noreply@example.com.
Rotate the API key in the dashboard, then update the secret in CI.
The secret is stored in Vault under secret/app/prod.
We never log the password; see docs/security.md.
Use `gh auth login` to get a token; never paste it here.
Token: see the 1Password entry "deploy bot".
password: see the team vault
api_key: null
token: none
secret: ""
"password": "",
"token": null,
"api_key": "<your key here>",
API_KEY=your-api-key-here
SECRET_KEY=changeme
PASSWORD=
token_count = 12
if self.tokens <= 0: return False
max_tokens=4096 temperature=0.2
fix(auth): refresh the access token before it expires
feat: read the API key from the keyring instead of the config file
chore(deps): bump cryptography from 42.0.5 to 43.0.1
test: cover password reset with an expired token
docs: explain how to rotate SECRET_KEY without logging everyone out
Merge pull request #412 from acme/fix/token-refresh
Revert "feat: store the token in localStorage"
INFO  auth.service  token refreshed for user_id=4821 expires_in=3600
WARN  auth.service  login failed for user=alice reason=bad_password attempts=3
DEBUG http.client   GET /v1/users/me 200 12.4ms
ERROR db.pool       could not connect to server: Connection refused (host=db port=5432)
2026-11-30T14:02:11Z INFO request_id=8f14e45f-ceea-467f-a0e6-8f7b3c2b0d41 status=200 ms=41
[2026-11-30 14:02:11] production.ERROR: SQLSTATE[HY000] [2002] Connection refused
    raise PermissionError("token expired")
E   AssertionError: assert 'hunter' not in out
tests/test_auth.py::test_password_reset_with_expired_token PASSED         [ 42%]
FAILED tests/test_auth.py::test_token_refresh - KeyError: 'access_token'
error[E0308]: mismatched types: expected `&str`, found `String`
npm ERR! code E401 npm ERR! Unable to authenticate, need: Basic realm="GitHub Package Registry"
remote: Support for password authentication was removed on August 13, 2021.
fatal: Authentication failed for 'https://github.com/acme/api.git/'
Permission denied (publickey).
The authenticity of host 'github.com (140.82.121.4)' can't be established.
ED25519 key fingerprint is SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU.
docker pull ghcr.io/acme/api@sha256:4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1
go: downloading golang.org/x/crypto v0.28.0
Collecting cryptography>=42.0 (from -r requirements.txt (line 4))
  Downloading cryptography-43.0.1-cp39-abi3-manylinux_2_28_x86_64.whl (4.0 MB)
cargo build --release --target wasm32-unknown-unknown
   Compiling spacetimedb-bindings-macro v1.0.0
pytest tests/test_orders.py -x -q
git commit -am 'Make TokenBucket.take atomic'
git commit --author='Dev <dev@example.com>' -m fix
git push origin fix/rate-limit
git rebase -i HEAD~3
git log --oneline --graph --decorate -20
git diff HEAD~1 -- app/ratelimit.py
ls -la ~/.config/spaces
/home/dev/src/acme-api/app/ratelimit.py
./node_modules/.bin/tsc --noEmit -p tsconfig.json
PWD=/home/dev/src/acme-api
PATH=/usr/local/bin:/usr/bin:/bin
HOME=/home/dev
SHELL=/bin/bash
LANG=C.UTF-8
TERM=xterm-256color
EDITOR=vim
XDG_RUNTIME_DIR=/run/user/1000
SSH_AUTH_SOCK=/run/user/1000/keyring/ssh
GPG_AGENT_INFO=/run/user/1000/gnupg/S.gpg-agent:0:1
DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus
VIRTUAL_ENV=/home/dev/src/acme-api/.venv
NODE_OPTIONS=--max-old-space-size=4096
KUBECONFIG=/home/dev/.kube/config
AWS_REGION=eu-west-1
AWS_PROFILE=staging
GOOGLE_APPLICATION_CREDENTIALS=/home/dev/.config/gcloud/application_default_credentials.json
DATABASE_URL=postgres://app@localhost:5432/app
REDIS_URL=redis://localhost:6379/0
SPACES_CHANNEL_ID=2
Fixed: `TokenBucket.take` is now atomic; committed as 3e1f2a9 on fix/rate-limit.
8 passed in 1.92s
bypass=1 author=me secretary=bob
The bearer of the news; sk-short; AKIA is a prefix.
ssh git@github.com:acme/api.git https://github.com/acme/api
const re = /^[A-Za-z0-9+\/]{40}$/;
assert isinstance(secret, bytes) and len(secret) == 32
key = Fernet.generate_key()
public_key = private_key.public_key()
keyring.set_password("spaces", user, password)
parser.add_argument("--password", help="read from SPACES_PASSWORD if unset")
parser.add_argument("--token-file", type=Path)
click.option("--api-key", envvar="API_KEY", required=True)
cli --token-file ~/.config/x/token
deploy --password-file /run/secrets/pw --verbose
'''

STDLIB_MODULES = ["json/decoder.py", "argparse.py", "subprocess.py", "asyncio/streams.py",
                  "http/client.py", "urllib/parse.py", "logging/__init__.py", "textwrap.py",
                  "smtplib.py", "secrets.py", "hmac.py", "getpass.py"]


def stdlib_lines(rng: random.Random, n: int) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    pool: list[str] = []
    for name in STDLIB_MODULES:
        for line in (root / name).read_text().splitlines():
            if len(line.strip()) >= 12 and "\t" not in line:
                pool.append(line.rstrip())
    return rng.sample(pool, n)


def commit_lines(rng: random.Random) -> list[str]:
    subjects = [
        "fix race in the outbox replay", "add retry with jitter to the ws client",
        "read the config from XDG_CONFIG_HOME", "drop python 3.9", "make the hook exit 0 on error",
        "rename Store.rows to Store.table", "log the reducer name on failure",
        "bump websockets to 13.1", "cap summary size at 12 KB", "fix typo in README",
        "add --json to read", "handle EPIPE when the client goes away",
        "refresh the access token before it expires", "store password hashes with argon2id",
        "move secrets to the keyring", "reject blank server names", "speed up recent_messages",
        "split server.py into ops and protocol", "add SIGSTOP test for hooks",
        "document the token rotation", "use secrets.token_urlsafe for session ids",
    ]
    out = []
    for i in range(120):
        sha = hashlib.sha1(f"commit {i}".encode()).hexdigest()
        subject = rng.choice(subjects)
        form = i % 4
        if form == 0:
            out.append(f"{sha[:7]} {subject}")
        elif form == 1:
            out.append(f"commit {sha}")
        elif form == 2:
            out.append(f"[main {sha[:7]}] {subject}")
        else:
            out.append(f"* {sha[:9]} (HEAD -> main, origin/main) {subject}")
    return out


def id_lines(rng: random.Random) -> list[str]:
    out = []
    for i in range(60):
        u = uuid.UUID(int=rng.getrandbits(128), version=4)
        forms = [f"session_id={u}", f'"request_id": "{u}"', f"Created workspace {u}",
                 f"  id: {u}", f"{u}"]
        out.append(forms[i % len(forms)])
    for i in range(40):
        digest = hashlib.sha256(f"blob {i}".encode()).hexdigest()
        forms = [f"sha256:{digest}", f"{digest}  dist/spacesd-0.1.0.tar.gz",
                 f"etag: \"{digest[:32]}\"", f"md5 {hashlib.md5(str(i).encode()).hexdigest()}"]
        out.append(forms[i % len(forms)])
    return out


def base64_lines(rng: random.Random) -> list[str]:
    out = []
    texts = ["hello world", "user@example.com", '{"alg":"none"}', "spaces agent log entry",
             "The quick brown fox jumps over the lazy dog", "version: 3\nservices: {}"]
    for i in range(60):
        form = i % 6
        if form == 0:
            raw = rng.randbytes(300)
            out.append(f"![chart](data:image/png;base64,{base64.b64encode(raw).decode()})")
        elif form == 1:
            raw = hashlib.sha512(f"pkg {i}".encode()).digest()
            out.append(f'      "integrity": "sha512-{base64.b64encode(raw).decode()}",')
        elif form == 2:
            raw = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + rng.randbytes(32)
            out.append(f"ssh-ed25519 {base64.b64encode(raw).decode()} dev@laptop")
        elif form == 3:
            text = rng.choice(texts)
            out.append(f"echo {base64.b64encode(text.encode()).decode()} | base64 -d")
        elif form == 4:
            raw = hashlib.sha256(f"sri {i}".encode()).digest()
            out.append(f'<script src="app.js" integrity="sha256-{base64.b64encode(raw).decode()}">'
                       "</script>")
        else:
            raw = rng.randbytes(600)
            out.append(f"  data: {base64.b64encode(raw).decode()}")
    return out


def main() -> None:
    rng = random.Random(1130)
    lines = [ln for ln in HANDWRITTEN.strip("\n").splitlines() if ln.strip()]
    lines += stdlib_lines(rng, 380)
    lines += commit_lines(rng)
    lines += id_lines(rng)
    lines += base64_lines(rng)
    out = Path(__file__).with_name("ordinary.txt")
    out.write_text("\n".join(lines) + "\n")
    print(f"{out}: {len(lines)} lines")


if __name__ == "__main__":
    main()
